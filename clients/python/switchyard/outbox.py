"""Emitting events through PostgreSQL's transactional outbox (docs/postgres.md) with psycopg 3.

    with conn.transaction():
        conn.execute("INSERT INTO orders ...")
        emit(conn, "trades:order_filled", {"order_id": "ord_1", "filled_quantity": 10})

The event row commits or rolls back with the service's own write; the Switchyard relay publishes
it after the commit, under its `event_id`, checked again against the contract (an invalid row is
quarantined). Given `contracts`, `emit` checks the payload first, so a bad one fails the
transaction at once instead of being quarantined later.
"""

from __future__ import annotations

from typing import Any, Mapping

from .contracts import ContractRegistry, compact
from .guard import PayloadGuard
from .envelope import uuid7


def emit(
    conn: Any, channel: str, payload: Any, *, metadata: Mapping[str, Any] | None = None, event_id: str | None = None,
    contracts: ContractRegistry | None = None,
) -> str:
    """Inserts one event into `switchyard.outbox` on the caller's connection (inside its transaction);
    returns the event id (a UUIDv7 unless given). `payload` may be a typed payload generated from a contract."""
    to_payload = getattr(payload, "to_payload", None)
    if callable(to_payload):
        payload = to_payload()
    if contracts is not None:
        guard = PayloadGuard(contracts)
        checked = guard.check(channel, payload)
        guard.check_metadata(dict(metadata or {}), checked)
    identifier = event_id or uuid7()
    conn.execute(
        "INSERT INTO switchyard.outbox (event_id, channel, payload, metadata) VALUES (%s::uuid, %s, %s::jsonb, %s::jsonb)",
        (identifier, channel, compact(payload), compact(dict(metadata or {}))),
    )
    return identifier
