"""The blocking client against a real redis-server: publishing, refusals, live resume, groups,
dead letters, state keys, replay, the spool, signatures and sealed fields."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis

from switchyard import (
    EngineUnavailable, Event, KeyRing, PayloadTooLarge, ProcessedStore, PublishRequest, RateLimited, StateKeyError,
    Switchyard, UnknownChannel, ValidationError,
)
from switchyard._core import script_source

from conftest import CONTRACTS, ROOT, RedisServer, unique, write_contract

SIGNING = "k1:" + base64.b64encode(bytes(range(32))).decode()
SEALING = "s1:" + base64.b64encode(bytes(range(32, 64))).decode()


def client(server: RedisServer, source: str = "python_tests", **options: Any) -> Switchyard:
    options.setdefault("contracts", CONTRACTS)
    return Switchyard.from_url(server.url, source=source, **options)


def stored(raw: redis.Redis, channel: str) -> list[dict[str, Any]]:
    entries: Any = raw.xrange("stream:{" + channel + "}")
    return [json.loads(fields[b"envelope"]) for _, fields in entries]


def test_the_packaged_scripts_and_state_table_are_the_swift_engines_own() -> None:
    """One source of truth: the package ships copies of the Swift resources, byte for byte."""
    for name in ("publish.lua", "dead_letter.lua"):
        assert script_source(name) == (ROOT / "Sources/SwitchyardRedis/Resources" / name).read_text(encoding="utf-8"), name
    from importlib import resources
    packaged = resources.files("switchyard").joinpath("data", "state-keys.json").read_text(encoding="utf-8")
    assert packaged == (ROOT / "Sources/Switchyard/Resources/state/state-keys.json").read_text(encoding="utf-8")


def test_publish_numbers_events_without_gaps_and_stores_a_repeated_event_id_once(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server)
    channel = unique("user:")
    first = sy.publish(channel, {"n": 1}, metadata={"user_id": "user_0001"})
    second = sy.publish(channel, {"n": 2})
    again = sy.publish(channel, {"n": 1}, event_id=first.event_id)
    assert (first.sequence_number, second.sequence_number) == (1, 2)
    assert again.duplicate and again.sequence_number == 1 and again.stream_id == first.stream_id and again.status == "duplicate"
    envelopes = stored(raw, channel)
    assert [e["sequence_number"] for e in envelopes] == [1, 2]
    head = envelopes[0]
    assert list(head) == ["event_id", "channel", "topic", "sequence_number", "timestamp", "source", "schema", "data", "metadata"]
    assert head["event_id"] == first.event_id and head["event_id"][14] == "7", "a UUIDv7"
    assert head["topic"] == channel and head["source"] == "python_tests" and head["schema"] == "user:*@1"
    assert head["metadata"] == {"user_id": "user_0001"} and head["data"] == {"n": 1}
    stream_ms = int(first.stream_id.split("-")[0])
    assert Event.from_json(head).timestamp_ms == stream_ms, "the timestamp is the stream id's milliseconds"
    assert raw.sismember("switchyard:channels", channel)
    latest = sy.latest(channel)
    assert latest is not None and latest.sequence_number == 2


def test_a_payload_that_breaks_its_contract_is_refused_with_the_validation_error_shape(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server)
    before = raw.xlen("stream:{quotes.realtime}")
    with pytest.raises(ValidationError) as refused:
        sy.publish("quotes.realtime", {"ticker": "aapl", "price": -1, "volume": 1.5, "source": "x"})
    body = refused.value.body
    assert body["error_type"] == "validation_error" and body["message"] == "Invalid message schema"
    assert body["details"]["missing_fields"] == ["timestamp"]
    invalid = body["details"]["invalid_fields"]
    assert invalid["volume"] == "must be an integer"
    assert invalid["ticker"].startswith("must match pattern")
    assert invalid["price"].startswith("must be")
    assert raw.xlen("stream:{quotes.realtime}") == before, "nothing is stored"


def test_refusals_before_anything_is_sent(server: RedisServer, tmp_path: Path) -> None:
    sy = client(server)
    with pytest.raises(UnknownChannel) as unknown:
        sy.publish("nobody:knows", {"n": 1})
    assert unknown.value.body["details"] == {"channel": "nobody:knows"}
    with pytest.raises(ValidationError) as credentials:
        sy.publish(unique("user:"), {"account": {"db_password": "x"}, "base_token": "ETH"})
    assert credentials.value.invalid_fields == {"account.db_password": "credentials are not allowed in messages"}
    with pytest.raises(ValidationError) as not_object:
        sy.publish(unique("user:"), [1, 2])
    assert not_object.value.invalid_fields == {"$": "the payload must be a JSON object"}
    write_contract(tmp_path, "small:thing", {"type": "object"}, policy={"max_size_bytes": 20})
    small = client(server, contracts=tmp_path)
    with pytest.raises(PayloadTooLarge) as large:
        small.publish("small:thing", {"text": "x" * 40})
    assert large.value.details["max_size_bytes"] == 20 and large.value.details["size_bytes"] > 20
    with pytest.raises(ValidationError):
        sy.publish("not a channel", {"n": 1})


def test_a_batch_is_checked_whole_before_anything_is_stored(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server)
    channel = unique("user:")
    with pytest.raises(ValidationError) as refused:
        sy.publish_batch([PublishRequest(channel, {"n": 1}), PublishRequest(channel, "text")])
    assert refused.value.details["index"] == 1
    assert raw.xlen("stream:{" + channel + "}") == 0
    receipts = sy.publish_batch([PublishRequest(channel, {"n": n}) for n in range(1, 6)])
    assert [r.sequence_number for r in receipts] == [1, 2, 3, 4, 5]


def test_the_token_bucket_refuses_a_burst_and_stores_nothing_of_it(server: RedisServer, raw: redis.Redis, tmp_path: Path) -> None:
    write_contract(tmp_path, "limited:*", {"type": "object"}, policy={"rate_limit": {"per_second": 1, "burst": 3}})
    sy = client(server, contracts=tmp_path)
    channel = unique("limited:")
    sy.publish_batch([PublishRequest(channel, {"n": n}) for n in range(3)])
    with pytest.raises(RateLimited) as limited:
        sy.publish_batch([PublishRequest(channel, {"n": n}) for n in range(2)])
    details = limited.value.details
    assert details["per_second"] == 1 and details["burst"] == 3 and details["source"] == "python_tests"
    assert 0 < limited.value.retry_after <= 2.0
    assert raw.xlen("stream:{" + channel + "}") == 3


def test_a_whole_recio_message_keeps_its_timestamp_as_event_time(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server, source="btc_price_watchdog")
    message = {"topic": "market_data:btc_price", "timestamp": "2025-01-27T10:30:00Z",
               "data": {"symbol": "BTC-USD", "price": 43250.50}, "metadata": {"sequence_id": 12345}}
    receipt = sy.publish("market_data:btc_price", message)
    envelope = [e for e in stored(raw, "market_data:btc_price") if e["event_id"] == receipt.event_id][0]
    assert envelope["event_time"] == "2025-01-27T10:30:00Z" and envelope["data"]["price"] == 43250.5
    assert envelope["metadata"] == {"sequence_id": 12345}
    with pytest.raises(ValidationError) as broken:
        sy.publish("market_data:btc_price", {"topic": "market_data:btc_price"})
    assert broken.value.missing_fields == ["timestamp", "data"]


def test_subscribe_resumes_from_a_sequence_number_and_fills_gaps_from_the_stream(server: RedisServer) -> None:
    sy = client(server)
    channel = unique("user:")
    for n in range(1, 6):
        sy.publish(channel, {"n": n})
    with sy.subscribe(["user:*"], since_sequence={channel: 3}) as subscription:
        sy.publish(channel, {"n": 6})
        # Event 7 is stored but not pushed live (as if Pub/Sub dropped it); event 8 reveals the gap.
        prepared = sy.settings.prepare(PublishRequest(channel, {"n": 7}))
        keys, args = sy.settings.script_call([prepared], rate_limits=False, with_state=False)
        args[4] = "none"
        sy._publish_script(keys=keys, args=args)
        sy.publish(channel, {"n": 8})
        seen: list[tuple[int, int]] = []
        while len(seen) < 6:
            event = subscription.get(timeout=5)
            assert event is not None, f"only {seen} arrived"
            if event.channel == channel:
                seen.append((event.sequence_number, event.data["n"]))
    assert seen == [(3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8)]


def test_a_forged_live_message_on_another_channel_is_passed_over(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server)
    channel, other = unique("user:"), unique("user:")
    with sy.subscribe([channel]) as subscription:
        forged = {"event_id": "x", "channel": other, "topic": other, "sequence_number": 1, "timestamp": "2026-01-01T00:00:00.000Z",
                  "source": "evil", "schema": "", "data": {}, "metadata": {}}
        raw.publish(channel, json.dumps(forged))
        sy.publish(channel, {"n": 1})
        event = subscription.get(timeout=5)
    assert event is not None and event.channel == channel and event.source == "python_tests"


def test_replay_by_sequence_and_time(server: RedisServer) -> None:
    sy = client(server)
    channel = unique("user:")
    for n in range(1, 11):
        sy.publish(channel, {"n": n})
        time.sleep(0.002)
    assert [e.sequence_number for e in sy.replay(channel, since=4, until=7)] == [4, 5, 6, 7]
    assert [e.sequence_number for e in sy.replay(channel, since=9)] == [9, 10]
    assert sy.replay(channel, since=11) == []
    everything = sy.replay(channel)
    middle = datetime.fromtimestamp(everything[5].timestamp_ms / 1000, tz=timezone.utc)
    assert [e.sequence_number for e in sy.replay(channel, since=middle)][0] <= 6
    assert len(sy.replay(channel, limit=3)) == 3


def test_a_group_handler_acks_retries_and_dead_letters_with_seed_000s_processing_error(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server, source="fill_recorder")
    channel = unique("user:")
    for n in range(1, 4):
        sy.publish(channel, {"n": n})
    group = sy.group(channel, group="recorder", consumer="r-1", max_deliveries=3, block=0.2)
    calls: list[int] = []

    @group.handler
    def record(event: Event) -> None:
        calls.append(event.data["n"])
        if event.data["n"] == 2:
            raise RuntimeError("Failed to execute trade")

    group.run(until=lambda: len(sy.dead_letters(channel)) == 1 and calls.count(3) == 1, timeout=20)
    assert calls == [1, 2, 2, 2, 3], "within a channel, entries are handled in order, retries included"
    letters = sy.dead_letters(channel)
    assert len(letters) == 1
    letter = letters[0]
    assert letter.group == "recorder" and letter.deliveries == 3 and letter.stream_id
    assert letter.error == {
        "error_type": "processing_error", "service": "fill_recorder", "message": "the handler threw RuntimeError",
        "original_message": json.loads(letter.envelope), "retry_count": 2,
        "details": {"error_type": "handler_error", "message": "the handler threw RuntimeError",
                    "details": {"error": "Failed to execute trade"}},
    }
    assert letter.event is not None and letter.event.data == {"n": 2}
    assert datetime.fromisoformat(letter.failed_at.replace("Z", "+00:00")) > datetime.now(timezone.utc) - timedelta(minutes=1)
    assert group.info()[channel]["pending"] == 0, "every entry was acked or dead-lettered"


def test_an_iterated_group_acks_fails_and_reclaims_from_a_consumer_that_died(server: RedisServer) -> None:
    sy = client(server)
    channel = unique("user:")
    for n in range(1, 4):
        sy.publish(channel, {"n": n})
    dead = sy.group(channel, group="workers", consumer="w-dead", visibility_timeout=0.3, claim_interval=0.1, block=0.1,
                    batch_size=1)
    taken = next(iter(dead.events(timeout=2)))
    assert taken.sequence_number == 1 and taken.deliveries == 1  # never settled: the consumer "dies"
    alive = sy.group(channel, group="workers", consumer="w-alive", visibility_timeout=0.3, claim_interval=0.1, block=0.1,
                     max_deliveries=2)
    seen: list[tuple[int, int]] = []
    for event in alive.events(timeout=3):
        seen.append((event.sequence_number, event.deliveries))
        if event.sequence_number == 3 and event.deliveries == 1:
            event.fail(ValueError("not yet"))
        else:
            event.ack()
        if len(seen) == 4:
            break
    assert (1, 2) in seen, f"the dead consumer's entry was reclaimed with its delivery count: {seen}"
    assert (3, 1) in seen and (3, 2) in seen, f"a failed event is delivered again: {seen}"
    assert (2, 1) in seen
    assert alive.info()[channel]["pending"] == 0


def test_an_entry_delivered_too_often_without_an_ack_is_dead_lettered(server: RedisServer) -> None:
    sy = client(server, source="svc")
    channel = unique("user:")
    sy.publish(channel, {"n": 1})
    for name in ("a", "b"):
        crashing = sy.group(channel, group="g", consumer=name, visibility_timeout=0.2, claim_interval=0.05, block=0.1)
        assert next(iter(crashing.events(timeout=2))).sequence_number == 1
        time.sleep(0.3)
    last = sy.group(channel, group="g", consumer="c", visibility_timeout=0.2, claim_interval=0.05, block=0.1, max_deliveries=2)
    assert list(last.events(timeout=1)) == []
    letters = sy.dead_letters(channel)
    assert len(letters) == 1 and letters[0].deliveries == 3
    assert letters[0].error["details"] == {"error_type": "handler_error", "message": "delivered 2 times without an ack",
                                           "details": {"max_deliveries": 2}}


def test_an_idempotent_handler_runs_once_per_event_id(server: RedisServer) -> None:
    sy = client(server, dedup_window=0.001)
    channel = unique("user:")
    first = sy.publish(channel, {"n": 1})
    time.sleep(0.01)
    # the same event id, stored again once the (here 1 ms) dedup window passed: a redelivery an
    # idempotent handler must not apply twice
    assert sy.publish(channel, {"n": 1}, event_id=first.event_id).sequence_number == 2
    group = sy.group(channel, group="once", consumer="o-1", block=0.1)
    effects: list[str] = []
    group.handler(lambda event: effects.append(event.event_id), idempotent=ProcessedStore(sy, ttl=60))
    group.run(until=lambda: group.info().get(channel, {}).get("lag", 1) == 0 and group.info()[channel]["pending"] == 0, timeout=10)
    assert len(sy.replay(channel)) == 2 and effects == [first.event_id]


def test_state_keys_keep_seed_001s_names_and_ttls(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server, source="position_monitor")
    snapshot = {"timestamp": "2024-05-12T14:00:00Z", "wallet": {"ETH": 10}}
    assert sy.state.set("position:snapshot", snapshot) == 3600
    assert json.loads(raw.get("position:snapshot") or b"") == snapshot and 3590 < raw.ttl("position:snapshot") <= 3600
    value = sy.state.get("position:snapshot")
    assert value is not None and value.value == snapshot and value.remaining_seconds is not None
    assert sy.state.set("config:strategy", {"risk": 1}) is None and raw.ttl("config:strategy") == -1
    with pytest.raises(StateKeyError) as unknown:
        sy.state.set("nothing:here", 1)
    assert unknown.value.error_type == "unknown_state_key"
    with pytest.raises(StateKeyError) as invalid:
        sy.state.set("switchyard:channels", 1)
    assert invalid.value.error_type == "invalid_state_key"
    with pytest.raises(ValidationError) as bad:
        sy.state.set("position:snapshot", {"wallet": "not an object"})
    assert bad.value.invalid_fields == {"wallet": "must be an object"}


def test_publish_and_set_a_state_key_in_one_step(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server, source="risk_monitor")
    raw.delete("risk:current")
    receipt = sy.publish("risk:calculated", {"overall_status": "ok"}, state=("risk:current", {"status": "ok"}))
    assert receipt.stored and json.loads(raw.get("risk:current") or b"") == {"status": "ok"}
    raw.delete("risk:current")
    again = sy.publish("risk:calculated", {"overall_status": "ok"}, event_id=receipt.event_id, state=("risk:current", {"status": "x"}))
    assert again.duplicate and raw.get("risk:current") is None, "a duplicate does not set the key"


def test_the_spool_keeps_events_while_redis_is_away_and_stores_them_in_order(private_server: RedisServer, tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    sy = client(private_server, source="signal_service", spool=spool)
    channel = unique("user:")
    receipts = [sy.publish(channel, {"n": n}) for n in range(1, 4)]
    assert all(r.spooled and r.sequence_number is None for r in receipts)
    assert sy.spool_depth == 3 and oct(spool.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(EngineUnavailable):
        sy.flush_spool()
    private_server.start()
    fourth = sy.publish(channel, {"n": 4})
    assert fourth.sequence_number == 4 and sy.spool_depth == 0
    kept = sy.replay(channel)
    assert [(e.sequence_number, e.data["n"], e.event_id) for e in kept] == [
        (1, 1, receipts[0].event_id), (2, 2, receipts[1].event_id), (3, 3, receipts[2].event_id), (4, 4, fourth.event_id)]
    private_server.stop()
    sy.publish(channel, {"n": 5})
    private_server.start()  # a fresh server: the spooled event is stored once, with its own id
    assert sy.flush_spool() == 1 and [e.data["n"] for e in sy.replay(channel)] == [5]
    os.symlink(spool, tmp_path / "link.jsonl")
    with pytest.raises(OSError, match="symbolic link"):
        client(private_server, spool=tmp_path / "link.jsonl")


def test_live_mode_fails_fast_without_redis(private_server: RedisServer) -> None:
    with pytest.raises(EngineUnavailable, match="Redis required for live trading!"):
        client(private_server, live=True)
    private_server.start()
    sy = client(private_server, live=True)
    channel = unique("user:")
    assert sy.publish(channel, {"n": 1}).sequence_number == 1
    private_server.stop()
    with pytest.raises(EngineUnavailable, match="Redis required for live trading!"):
        sy.publish(channel, {"n": 2})


def test_critical_channels_are_signed_and_a_keyed_group_dead_letters_what_does_not_verify(server: RedisServer, raw: redis.Redis) -> None:
    from switchyard.security import verify
    signer = client(server, source="trade_executor", signing_keys=SIGNING)
    unsigned = client(server, source="trade_executor")
    channel = unique("trades:")
    signer.publish(channel, {"n": 1})
    unsigned.publish(channel, {"n": 2})
    envelopes = stored(raw, channel)
    assert envelopes[0]["metadata"]["signature"]["key_id"] == "k1"
    assert verify(envelopes[0], KeyRing.parse(SIGNING)) is None
    group = signer.group(channel, group="checker", consumer="c-1", block=0.1)
    handled: list[int] = []
    group.handler(lambda event: handled.append(event.sequence_number))
    group.run(until=lambda: bool(signer.dead_letters(channel)) and handled == [1], timeout=10)
    letter = signer.dead_letters(channel)[0]
    assert letter.error["error_type"] == "unsigned_event" and letter.deliveries == 1


def test_sensitive_fields_are_sealed_at_rest_and_opened_by_a_consumer_with_the_key(server: RedisServer, raw: redis.Redis, tmp_path: Path) -> None:
    write_contract(tmp_path, "payments:*", {"type": "object", "properties": {
        "account_id": {"type": "string", "pattern": "^ACC-"}, "beneficiary": {"type": "object", "properties": {"iban": {"type": "string"}}}}},
        sensitive_fields=["account_id", "beneficiary.iban"])
    channel = unique("payments:")
    with pytest.raises(Exception) as refused:
        client(server, contracts=tmp_path).publish(channel, {"account_id": "ACC-1"})
    assert getattr(refused.value, "error_type", "") == "encryption_key_required"
    sealer = client(server, contracts=tmp_path, encryption_keys=SEALING)
    with pytest.raises(ValidationError):
        sealer.publish(channel, {"account_id": "nope"})  # checked in clear first
    sealer.publish(channel, {"account_id": "ACC-000001", "beneficiary": {"iban": "DE00", "name": "A"}, "amount": 5})
    at_rest = stored(raw, channel)[0]
    assert "ACC-000001" not in json.dumps(at_rest) and "DE00" not in json.dumps(at_rest)
    assert at_rest["data"]["account_id"]["sealed"] == "AES-256-GCM" and at_rest["metadata"]["sealed_fields"] == ["account_id", "beneficiary.iban"]
    opened = next(iter(sealer.group(channel, group="g", consumer="c", block=0.1).events(timeout=3)))
    assert opened.data == {"account_id": "ACC-000001", "beneficiary": {"iban": "DE00", "name": "A"}, "amount": 5}
    assert "sealed_fields" not in opened.metadata


def test_outbox_emit_checks_the_payload_before_it_writes() -> None:
    from switchyard import ContractRegistry
    from switchyard.outbox import emit

    class Refusing:
        """A connection that must not be written to: the refusal comes first."""

        def execute(self, *_: Any) -> None:
            raise AssertionError("nothing is written for a refused payload")

    with pytest.raises(ValidationError) as refused:
        emit(Refusing(), "signals.generated", {"strategy_id": "s"}, contracts=ContractRegistry.load(CONTRACTS))
    assert "num_signals" in refused.value.missing_fields


def test_a_publish_carries_the_callers_opentelemetry_span_as_its_traceparent(server: RedisServer, raw: redis.Redis) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("signal_service")
    sy = client(server)
    channel = unique("user:")
    with tracer.start_as_current_span("generate signals") as span:
        sy.publish(channel, {"n": 1})
        context = span.get_span_context()
    sy.publish(channel, {"n": 2}, metadata={"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"})
    first, second = sy.replay(channel)
    assert (first.traceparent or "").startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    assert second.traceparent == "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01", "a traceparent the caller gives is kept"
    sy.publish(channel, {"n": 3})
    assert sy.replay(channel, since=3)[0].traceparent is None, "no active span: no trace context"


def test_an_entry_that_is_not_an_envelope_is_dead_lettered_as_it_is_and_the_group_moves_on(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server)
    channel = unique("user:")
    raw.xadd("stream:{" + channel + "}", {"envelope": "{not json"})
    raw.sadd("switchyard:channels", channel)
    sy.publish(channel, {"n": 1})
    group = sy.group(channel, group="g", consumer="c", block=0.1)
    handled: list[int] = []
    group.handler(lambda event: handled.append(event.sequence_number))
    group.run(until=lambda: handled == [1], timeout=10)
    letters = sy.dead_letters(channel)
    assert len(letters) == 1 and letters[0].envelope == "{not json" and letters[0].event is None
    assert letters[0].error["error_type"] == "validation_error" and letters[0].error["message"] == "Invalid envelope"
    assert group.info()[channel]["pending"] == 0


def test_a_replicated_acknowledgement_without_a_replica_is_refused_and_a_retry_is_stored_once(server: RedisServer, raw: redis.Redis, tmp_path: Path) -> None:
    write_contract(tmp_path, "acked:*", {"type": "object"}, policy={"acknowledge": "replicated"})
    sy = client(server, contracts=tmp_path)
    channel = unique("acked:")
    with pytest.raises(EngineUnavailable) as unconfirmed:
        sy.publish(channel, {"n": 1}, event_id="01a25000-0000-7000-8000-000000000001")
    assert unconfirmed.value.details["replication"] == "unconfirmed"
    assert raw.xlen("stream:{" + channel + "}") == 1, "stored on the primary"
    with pytest.raises(EngineUnavailable):
        sy.publish(channel, {"n": 1}, event_id="01a25000-0000-7000-8000-000000000001")
    assert raw.xlen("stream:{" + channel + "}") == 1, "the retry finds its dedup mark"
    plain = client(server)
    assert not plain.settings.waits_for_replica(plain.settings.guard.resolve("trades:x")[1]), "no replicas on one server"


def test_an_event_id_that_is_not_a_uuid_is_refused_before_anything_is_sent(server: RedisServer, raw: redis.Redis) -> None:
    sy = client(server)
    channel = unique("user:")
    with pytest.raises(ValidationError) as refused:
        sy.publish(channel, {"n": 1}, event_id="not a uuid")
    assert refused.value.invalid_fields == {"event_id": "must be a UUID"}
    assert raw.xlen("stream:{" + channel + "}") == 0
    upper = sy.publish(channel, {"n": 1}, event_id="01A25000-0000-7000-8000-0000000000AB")
    assert upper.event_id == "01a25000-0000-7000-8000-0000000000ab", "ids are kept in the canonical lowercase form"


def test_a_large_spool_is_replayed_in_order_reading_its_file_once(private_server: RedisServer, tmp_path: Path) -> None:
    sy = client(private_server, spool=tmp_path / "spool.jsonl")
    channel = unique("user:")
    spooled = sy.publish_batch([PublishRequest(channel, {"n": n}) for n in range(1, 1201)])
    assert all(r.spooled for r in spooled) and sy.spool_depth == 1200
    private_server.start()
    assert sy.flush_spool() == 1200 and sy.spool_depth == 0
    assert [e.data["n"] for e in sy.replay(channel, limit=2000)] == list(range(1, 1201))
    assert (tmp_path / "spool.jsonl").read_text() == ""
