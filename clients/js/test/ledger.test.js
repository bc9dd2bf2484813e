// The client's bookkeeping without a network: which events reach a handler, which are dropped
// as duplicates, which skips are reported, how patterns match and how long reconnects wait.
// Run with `node --test test/` (Node 18 or newer; no packages).

import { test } from "node:test";
import assert from "node:assert/strict";
import { EventLedger, SwitchyardClient, backoffDelay, globToRegExp } from "../switchyard.js";

/** @param {string} channel @param {number} sequence @param {string} [id] */
function envelope(channel, sequence, id = `${channel}#${sequence}`) {
  return { event_id: id, channel, sequence_number: sequence, timestamp: "2026-01-27T10:30:05.123Z", source: "test", data: {} };
}

test("events in sequence order are delivered, and the position follows them", () => {
  const ledger = new EventLedger();
  for (const sequence of [1, 2, 3]) {
    assert.deepEqual(ledger.accept(envelope("trades:a", sequence)), { action: "deliver", skipped: null });
  }
  assert.deepEqual(ledger.positions(), { "trades:a": 3 });
});

test("an event id seen before is a duplicate, even under a new sequence number", () => {
  const ledger = new EventLedger();
  ledger.accept(envelope("trades:a", 1, "e1"));
  ledger.accept(envelope("trades:a", 2, "e2"));
  // the same event stored again after the gateway's dedup window: a new number, the same id
  assert.deepEqual(ledger.accept(envelope("trades:a", 3, "e1")), { action: "duplicate", reason: "event_id" });
  // its number is used up: the next one follows without a reported skip
  assert.deepEqual(ledger.accept(envelope("trades:a", 4, "e4")), { action: "deliver", skipped: null });
  assert.equal(ledger.positions()["trades:a"], 4);
});

test("a replayed window is dropped: numbers at or below the position never reach a handler", () => {
  const ledger = new EventLedger({ positions: { "trades:a": 5 } });
  for (const sequence of [3, 4, 5]) {
    assert.deepEqual(ledger.accept(envelope("trades:a", sequence)), { action: "duplicate", reason: "sequence" });
  }
  const ledger2 = new EventLedger();
  ledger2.accept(envelope("trades:a", 1));
  ledger2.accept(envelope("trades:a", 2));
  assert.deepEqual(ledger2.accept(envelope("trades:a", 2)), { action: "duplicate", reason: "event_id" });
  assert.deepEqual(ledger.accept(envelope("trades:a", 6)), { action: "deliver", skipped: null });
});

test("a jump in sequence numbers is reported as skipped (conflation), and delivery goes on", () => {
  const ledger = new EventLedger();
  ledger.accept(envelope("market_data:btc", 10));
  assert.deepEqual(ledger.accept(envelope("market_data:btc", 14)), { action: "deliver", skipped: { from: 11, to: 13 } });
  // the first event of a channel seen live has nothing to compare with
  assert.deepEqual(ledger.accept(envelope("market_data:eth", 70)), { action: "deliver", skipped: null });
});

test("a gap or a refused event moves the position, so the next event is not a skip", () => {
  const ledger = new EventLedger();
  ledger.accept(envelope("trades:a", 1));
  ledger.advance("trades:a", 7);
  assert.deepEqual(ledger.accept(envelope("trades:a", 8)), { action: "deliver", skipped: null });
  ledger.advance("trades:a", 3);  // never backwards
  assert.equal(ledger.positions()["trades:a"], 8);
});

test("the dedup memory is bounded, oldest ids first out", () => {
  const ledger = new EventLedger({ dedupSize: 3 });
  for (const id of ["a", "b", "c", "d"]) ledger.remember(id);
  assert.deepEqual([...ledger.eventIds], ["b", "c", "d"]);
  for (let i = 0; i < 10000; i++) ledger.accept(envelope("x:y", i + 1, "id" + i));
  assert.equal(ledger.eventIds.size, 3);
});

test("positions given are checked; retain and reset forget channels", () => {
  const ledger = new EventLedger({ positions: { "a:b": 4, "c:d": -1, "e:f": 1.5, "g:h": 9 } });
  assert.deepEqual(ledger.positions(), { "a:b": 4, "g:h": 9 });
  ledger.retain((channel) => channel === "g:h");
  assert.deepEqual(ledger.positions(), { "g:h": 9 });
  ledger.reset({ "z:z": 1 });
  assert.deepEqual(ledger.positions(), { "z:z": 1 });
});

test("globs match whole channel names as Redis does", () => {
  const cases = [
    ["trades:*", "trades:user_1", true], ["trades:*", "xtrades:user_1", false], ["trades:*", "trades:", true],
    ["price.updated.*", "price.updated.AAPL", true], ["price.updated.*", "priceXupdated.AAPL", false],
    ["user_?", "user_1", true], ["user_?", "user_12", false],
    ["[ab]:x", "a:x", true], ["[ab]:x", "c:x", false], ["[^ab]:x", "c:x", true], ["[a-c]:x", "b:x", true],
    ["a\\*", "a*", true], ["a\\*", "ab", false], ["*", "anything:at.all", true], ["[oops", "[oops", true],
  ];
  for (const [glob, channel, expected] of cases) {
    assert.equal(globToRegExp(glob).test(channel), expected, `${glob} ~ ${channel}`);
  }
});

test("reconnect delays double up to the cap, with jitter below the base", () => {
  const none = () => 0;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, {}, none)), [500, 1000, 2000, 4000, 8000, 10000, 10000]);
  assert.equal(backoffDelay(3, {}, () => 1), 1000);  // jitter 0.5 at most halves it
  assert.equal(backoffDelay(1, { initialMs: 100, maxMs: 150, jitter: 0 }, () => 1), 100);
  assert.equal(backoffDelay(99, { initialMs: 100, maxMs: 150, jitter: 0 }), 150);
  for (let attempt = 1; attempt < 40; attempt++) {
    const delay = backoffDelay(attempt);
    assert.ok(delay >= 250 && delay <= 10000, `attempt ${attempt}: ${delay}`);
  }
});

test("a client needs a WebSocket URL outside a page, and checks what it subscribes", () => {
  assert.throws(() => new SwitchyardClient(), /not a WebSocket URL/);
  const client = new SwitchyardClient({ url: "http://127.0.0.1:1/v1/ws", WebSocket: /** @type {any} */ (class {}) });
  assert.equal(client.url.href, "ws://127.0.0.1:1/v1/ws");
  assert.equal(new SwitchyardClient({ url: "https://gw.example/v1/ws" }).url.protocol, "wss:");
  assert.throws(() => client.subscribe([], () => {}), /one or more channel patterns/);
  assert.throws(() => client.subscribe("trades:*", /** @type {any} */ (null)), /handler function/);
  assert.equal(client.state, "idle");
});
