#!/usr/bin/env python3
"""Emit Switchyard events from Python with a plain SQL INSERT into switchyard.outbox.

The service's own write and the outbox row commit in ONE transaction; the Switchyard relay
publishes the row to Redis after the commit, checked against the channel's contract (an invalid
row is quarantined with its validation_error). Needs psycopg 3: pip install 'psycopg[binary]'.

    outbox_emit.py --url postgres://postgres@127.0.0.1:5432/app --channel trades:order_filled

Prints a JSON report: the event ids committed, and the one rolled back.
"""
import argparse
import json
import uuid

import psycopg
from psycopg.types.json import Jsonb


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="PostgreSQL URL of the database with the switchyard schema")
    parser.add_argument("--channel", required=True, help="the channel to emit to")
    args = parser.parse_args()

    committed = []
    with psycopg.connect(args.url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS py_orders (id uuid PRIMARY KEY, qty int NOT NULL)")
        conn.commit()

        # One business transaction: the order row and its event commit together.
        with conn.transaction():
            for n in (1, 2):
                order_id = uuid.uuid4()
                conn.execute("INSERT INTO py_orders (id, qty) VALUES (%s, %s)", (order_id, n * 10))
                row = conn.execute(
                    "INSERT INTO switchyard.outbox (channel, payload, metadata) VALUES (%s, %s, %s) RETURNING event_id",
                    (args.channel, Jsonb({"n": n, "note": f"order {order_id}"}), Jsonb({"user_id": "py"})),
                ).fetchone()
                committed.append(str(row[0]))

        # The event id may also be chosen by the caller (any UUID): the relay publishes under it.
        chosen = uuid.uuid4()
        with conn.transaction():
            conn.execute(
                "INSERT INTO switchyard.outbox (event_id, channel, payload) VALUES (%s, %s, %s)",
                (chosen, args.channel, Jsonb({"n": 3})),
            )
        committed.append(str(chosen))

        # A transaction that rolls back publishes nothing.
        rolled_back = None
        try:
            with conn.transaction():
                row = conn.execute(
                    "INSERT INTO switchyard.outbox (channel, payload) VALUES (%s, %s) RETURNING event_id",
                    (args.channel, Jsonb({"n": 99})),
                ).fetchone()
                rolled_back = str(row[0])
                raise RuntimeError("the order was refused")
        except RuntimeError:
            pass

    print(json.dumps({"committed": committed, "rolled_back": rolled_back}))


if __name__ == "__main__":
    main()
