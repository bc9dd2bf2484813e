#!/usr/bin/env python3
"""Drives headless Chromium through a page that uses the gateway's browser client, /v1/client.js.

    client-check.py --chromium /usr/bin/chromium --url http://127.0.0.1:8080/ --channel trades:user_x \
        --token KEY --bad-token WRONG --handshake DIR [--rewind 5] [--timeout 180]

Starts Chromium with the DevTools protocol on a free port and opens a test page on the gateway's
origin: the gateway's own /healthz document, which the script turns into the page, so the gateway
serves nothing but its own routes. The page imports /v1/client.js and runs two clients:

- one with `--token` subscribed to `--channel`, which renders every event it is handed as a list
  item (sequence number and event id) and records its connection states, duplicates, gaps and
  conflation notices; once subscribed it publishes one event to the channel (`receipt`) and one to a
  channel the token may not publish to (`refusedPublish`: the error type); on a reconnect it
  resumes `--rewind` events before its last position, so the gateway sends a window the page
  already rendered again (dedup by event_id must drop it);
- one with `--bad-token`, which must end `unauthorized`, render nothing, and refuse to publish.

With `--pause`, the page's scripts are paused in the debugger from `ready` until `published`, so
the gateway's queue for it fills while the caller publishes (conflation on a conflatable channel).

The handshake with the caller (the test), through files in DIR:

1. once the first client is subscribed and the second refused, this writes `ready` (the page's
   report so far); the caller publishes, restarts the gateway, publishes again, and writes
   `published`: `{"count": N, "last_sequence": S}`, the number of distinct events and the last
   sequence number the page must end with;
2. this waits until the page has rendered N events and reached S, watches a second more for
   anything extra, and prints one JSON object on stdout:

    {"ok": true, "rendered": [[seq, event_id], ...], "states": [...], "duplicates": [...],
     "conflated": [...], "gaps": [...], "errors": [...], "bad": {"states": [...], "events": 0},
     "positions": {...}, "elapsed_s": 12.3}

Exit status: 0 when the page got there, 1 when the deadline passed first (the JSON says what the
page had), 2 when Chromium could not be started or driven. Needs the `websockets` package (the
virtualenv scripts/test makes has it).
"""

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from websockets.sync.client import connect

from devtools import DevTools, page_socket, start_chromium, stop_chromium

# The test page's script. It runs in the gateway's own /healthz document, so the page has the
# gateway's origin (a refused handshake can then be asked about, as on any page the gateway serves)
# while the gateway serves nothing but its own routes; it imports the module as any page would.
PAGE = r"""
(async () => {
  const query = new URLSearchParams(QUERY);
  const channel = query.get("channel");
  const rewind = Number(query.get("rewind") || 0);
  const check = window.check = { loaded: false, subscribed: 0, states: [], duplicates: [], conflated: [], gaps: [], errors: [],
                                 receipt: null, refusedPublish: null, bad: { states: [], events: 0, publish: null }, failure: null };
  document.title = "Switchyard client check";
  const list = document.createElement("ol");
  list.id = "events";
  document.body.replaceChildren(list);
  try {
    const { connect } = await import("/v1/client.js");
    const client = window.client = connect({
      token: query.get("token"),
      backoff: { initialMs: 200, maxMs: 2000 },
      // An app that resumes from an older checkpoint: the gateway sends events it already has.
      beforeResume: (positions) => Object.fromEntries(Object.entries(positions).map(([c, s]) => [c, Math.max(0, s - rewind)])),
    });
    client.on("state", (c) => check.states.push({ state: c.state, code: c.code ?? null, reason: c.reason ?? null,
                                                  connections: c.connections, error: c.error ? c.error.error_type : null }));
    client.on("duplicate", (d) => check.duplicates.push({ seq: d.envelope.sequence_number, event_id: d.envelope.event_id, reason: d.reason }));
    client.on("conflated", (n) => check.conflated.push(n));
    client.on("gap", (n) => check.gaps.push(n));
    client.on("error", (e) => check.errors.push(e));
    client.subscribe(channel, (event) => {
      const item = document.createElement("li");
      item.dataset.seq = String(event.sequence_number);
      item.dataset.eventId = event.event_id;
      item.textContent = `#${event.sequence_number} ${event.event_id} ${JSON.stringify(event.data)}`;
      list.append(item);
    }, { onSubscribed: () => { check.subscribed += 1; publishOnce(); }, onError: (e) => check.errors.push(e) });
    // Publishing through the connection, once the subscription is live: one event of its own, and
    // one the key may not publish.
    function publishOnce() {
      if (check.receipt) return;
      check.receipt = "waiting";
      client.publish(channel, { n: 0, from: "page" })
        .then((receipt) => { check.receipt = receipt; }, (error) => { check.receipt = { error: error.errorType }; });
      client.publish(channel + "_other", { n: 0 })
        .then(() => { check.refusedPublish = "stored"; }, (error) => { check.refusedPublish = error.errorType; });
    }

    const bad = connect({ token: query.get("bad"), backoff: { initialMs: 200, maxMs: 2000 } });
    bad.on("state", (c) => check.bad.states.push({ state: c.state, error: c.error ? c.error.error_type : null }));
    bad.subscribe(channel, () => { check.bad.events += 1; });
    bad.publish(channel, { n: -1 }).then(() => { check.bad.publish = "stored"; }, (error) => { check.bad.publish = error.errorType; });
    setInterval(() => {}, 50);  // gives a debugger pause a statement to stop at
    check.loaded = true;
  } catch (error) {
    check.failure = String(error && error.stack || error);
  }
  return true;
})()
"""

REPORT = r"""
(() => {
  const c = window.check;
  if (!c) return null;
  const rendered = Array.from(document.querySelectorAll("#events li")).map((li) => [Number(li.dataset.seq), li.dataset.eventId]);
  return Object.assign({}, c, { rendered, positions: window.client ? window.client.positions() : null,
                                state: window.client ? window.client.state : null });
})()
"""


def open_page(tools, url, query):
    """Opens the gateway's /healthz and turns it into the test page."""
    tools.call("Page.navigate", {"url": url.rstrip("/") + "/healthz"})
    deadline = time.monotonic() + 30
    while tools.evaluate("document.readyState") != "complete":
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway's /healthz did not load")
        time.sleep(0.1)
    tools.evaluate(PAGE.replace("QUERY", json.dumps(query)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--url", required=True, help="the gateway, http://HOST:PORT/")
    parser.add_argument("--channel", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--bad-token", required=True)
    parser.add_argument("--handshake", required=True, metavar="DIR")
    parser.add_argument("--rewind", type=int, default=0)
    parser.add_argument("--pause", action="store_true",
                        help="pause the page's scripts (the DevTools debugger) from `ready` until `published`, so it falls behind")
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()

    profile = tempfile.mkdtemp(prefix="switchyard-chromium-")
    process = None
    report = {"ok": False}
    started = time.monotonic()
    deadline = started + args.timeout
    try:
        process, browser = start_chromium(args.chromium, profile)
        with connect(page_socket(browser), max_size=64 * 1024 * 1024, open_timeout=30) as socket:
            tools = DevTools(socket)
            tools.call("Page.enable")
            tools.call("Runtime.enable")
            query = urllib.parse.urlencode({"channel": args.channel, "token": args.token, "bad": args.bad_token, "rewind": args.rewind})
            open_page(tools, args.url, query)

            page = None
            while time.monotonic() < deadline:
                try:
                    page = tools.evaluate(REPORT)
                except RuntimeError:
                    page = None
                if page and (page["failure"] or (page["subscribed"] >= 1 and isinstance(page["receipt"], dict) and page["refusedPublish"]
                                                 and any(s["state"] == "unauthorized" for s in page["bad"]["states"]))):
                    break
                time.sleep(0.2)
            if not page or page["failure"] or page["subscribed"] < 1:
                report["page"] = page
                raise RuntimeError("the page did not subscribe: " + str(page and page["failure"]))
            if args.pause:
                tools.call("Debugger.enable")
                tools.call("Debugger.pause")
                time.sleep(0.5)
            with open(os.path.join(args.handshake, "ready.tmp"), "w") as file:
                json.dump(page, file)
            os.replace(os.path.join(args.handshake, "ready.tmp"), os.path.join(args.handshake, "ready"))

            published = os.path.join(args.handshake, "published")
            while not os.path.exists(published) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not os.path.exists(published):
                raise RuntimeError("the caller never said what it published")
            with open(published) as file:
                want = json.load(file)
            if args.pause:
                tools.call("Debugger.resume")
                tools.call("Debugger.disable")

            ok = False
            while time.monotonic() < deadline:
                page = tools.evaluate(REPORT)
                rendered = page["rendered"]
                if len(rendered) >= want["count"] and rendered[-1][0] >= want["last_sequence"] and page["state"] == "open":
                    ok = True
                    break
                time.sleep(0.3)
            if ok:
                time.sleep(1.0)  # anything rendered after the last event would be extra
                page = tools.evaluate(REPORT)
            report.update(page)
            report["ok"] = ok
        status = 0 if report["ok"] else 1
    except Exception as error:  # any failure to drive the browser is reported, not hidden
        report["error"] = f"{type(error).__name__}: {error}"
        status = 2
    finally:
        stop_chromium(process, profile)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(report))
    return status


if __name__ == "__main__":
    sys.exit(main())
