#!/usr/bin/env python3
"""Drives headless Chromium against the Switchyard console and reports what its DOM shows.

    console-check.py --chromium /usr/bin/chromium --url http://127.0.0.1:8080/ \
        --screenshot .build/console-screenshot.png [--timeout 90] [--requeue] [--restart-handshake DIR [--token KEY]]

Starts Chromium with the DevTools protocol on a free port, opens the page, and evaluates a probe
of the DOM every half second until the page shows live events, non-zero publish rates, consumer
groups with their lag and, when asked, a dead letter (then clicks its requeue button and waits for
the row to go, and stay gone over the next polls). It saves a screenshot, then subscribes the
tail to `price.updated.*` through the page's form and checks every row matches. With
--restart-handshake it lets the caller restart the gateway and waits for the page to reconnect
and show new events; with --token too, it lets the caller restart the gateway with auth, waits for
the page to report `unauthorized`, enters the token and waits for the page to work again. It
prints one JSON object on stdout:

    {"ok": true, "probe": {...the last probe...}, "filtered": {...}, "requeued": {"id", "event", "channel"},
     "reconnected": {...}, "token": {...}, "screenshot": "...", "elapsed_s": 12.3}

Exit status: 0 when everything appeared, 1 when the deadline passed first (the JSON says what was
missing), 2 when Chromium could not be started or driven. Needs the `websockets` package (the
virtualenv scripts/test makes has it).
"""

import argparse
import base64
import json
import os
import re
import sys
import tempfile
import time

from websockets.sync.client import connect

from devtools import DevTools, page_socket, start_chromium, stop_chromium

PROBE = r"""
(() => {
  const rows = (selector) => Array.from(document.querySelectorAll(selector));
  const events = rows("#tail-body tr.event");
  const channels = rows("#channels-body tr[data-channel]");
  const groups = rows("#groups-body tr[data-group]");
  const letters = rows("#dlq-body tr[data-id]");
  return {
    status: document.getElementById("ws-status")?.dataset.state ?? null,
    events: events.length,
    event_channels: Array.from(new Set(events.map((r) => r.dataset.channel))).sort(),
    channels: channels.length,
    rated_channels: channels.filter((r) => parseFloat(r.dataset.rate) > 0).map((r) => r.dataset.channel).sort(),
    sparklines: rows("#channels-body svg.spark polyline").filter((p) => (p.getAttribute("points") || "").length > 0).length,
    groups: groups.map((r) => ({ group: r.dataset.group, channel: r.dataset.channel, lag: Number(r.dataset.lag),
                                 lag_seconds: Number(r.dataset.lagSeconds), cells: Array.from(r.cells).map((c) => c.textContent) })),
    dead_letters: letters.map((r) => ({ id: r.dataset.id, event: r.dataset.event, channel: r.dataset.channel })),
    alert_events: rows("#alert-events-body tr").length,
    services: rows("#services-body tr[data-service]").length,
    poll_status: document.getElementById("poll-status")?.textContent ?? "",
  };
})()
"""


def complete(probe, want_dead_letter):
    groups = probe["groups"]
    return (probe["status"] == "connected" and probe["events"] >= 5 and len(probe["rated_channels"]) >= 3
            and probe["sparklines"] >= 3 and len(groups) >= 2
            and all(len(g["cells"]) == 5 and g["cells"][2].strip().isdigit() and g["cells"][3].strip() != "" for g in groups)
            and (not want_dead_letter or len(probe["dead_letters"]) > 0))


RECONNECT_PROBE = r"""
(() => {
  const rows = Array.from(document.querySelectorAll("#tail-body tr"));
  const marker = rows.findIndex((r) => r.classList.contains("reconnect"));
  return {
    status: document.getElementById("ws-status")?.dataset.state ?? null,
    reconnects: Number(document.getElementById("ws-status")?.dataset.reconnects ?? 0),
    marker: marker >= 0 ? rows[marker].textContent : null,
    events_after: marker >= 0 ? rows.slice(0, marker).filter((r) => r.classList.contains("event")).length : 0,
  };
})()
"""


def await_restart(folder, round, report, deadline):
    """Asks the caller to restart the gateway (the file `ready-N` in `folder`, holding the report so
    far) and waits until it has (the file `restarted-N`)."""
    with open(os.path.join(folder, f"ready-{round}.tmp"), "w") as file:
        json.dump(report, file)
    os.replace(os.path.join(folder, f"ready-{round}.tmp"), os.path.join(folder, f"ready-{round}"))
    while not os.path.exists(os.path.join(folder, f"restarted-{round}")):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def await_reconnect(tools, reconnects, deadline, report):
    """Waits for the page to be live again after `reconnects` reconnects, with new events above
    its latest reconnect row; on the deadline, keeps the last probe in the report."""
    probe = None
    while time.monotonic() < deadline:
        probe = tools.evaluate(RECONNECT_PROBE)
        if probe["status"] == "connected" and probe["reconnects"] >= reconnects and probe["events_after"] >= 3:
            return probe
        time.sleep(0.5)
    report["last_reconnect_probe"] = probe
    return None


def check_filter(tools, pattern, regex, deadline):
    """Subscribes the tail to `pattern` through the page's form and waits for rows, all matching."""
    tools.evaluate(f"(() => {{ document.getElementById('filter').value = {json.dumps(pattern)}; "
                   "document.getElementById('filter-form').requestSubmit(); return true; })()")
    while time.monotonic() < deadline:
        channels = tools.evaluate("Array.from(document.querySelectorAll('#tail-body tr.event')).map((r) => r.dataset.channel)")
        if len(channels) >= 3:
            return {"pattern": pattern, "rows": len(channels), "all_match": all(re.match(regex, c) for c in channels),
                    "channels": sorted(set(channels))}
        time.sleep(0.5)
    return None


def check_token(tools, token, deadline, report):
    """On a gateway that wants credentials: waits for the page to say so, enters the token in its
    form, and waits for the polls and the WebSocket to work with it."""
    said = False
    while time.monotonic() < deadline and not said:
        said = "unauthorized" in tools.evaluate("document.getElementById('poll-status').textContent")
        time.sleep(0.3)
    if not said:
        return None
    before = tools.evaluate("Number(document.getElementById('ws-status').dataset.reconnects ?? 0)")
    tools.evaluate(f"(() => {{ document.getElementById('token').value = {json.dumps(token)}; "
                   "document.getElementById('token-form').requestSubmit(); return true; })()")
    probe = await_reconnect(tools, before + 1, deadline, report)
    if probe is None:
        return None
    while time.monotonic() < deadline:
        status = tools.evaluate("document.getElementById('poll-status').textContent")
        if status.startswith("updated") and tools.evaluate("document.querySelectorAll('#channels-body tr[data-channel]').length") > 0:
            probe["poll_status"] = status
            return probe
        time.sleep(0.5)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--requeue", action="store_true", help="wait for a dead letter, click requeue, wait for its row to go")
    parser.add_argument("--restart-handshake", metavar="DIR",
                        help="then create DIR/ready-1, wait for DIR/restarted-1 (the caller restarted the gateway), and wait for the page to reconnect")
    parser.add_argument("--token", help="with --restart-handshake: then DIR/ready-2, wait for DIR/restarted-2 (the caller restarted "
                        "the gateway with auth), and check that the page asks for a token and works with this one")
    args = parser.parse_args()

    profile = tempfile.mkdtemp(prefix="switchyard-chromium-")
    process = None
    report = {"ok": False}
    started = time.monotonic()
    try:
        process, browser = start_chromium(args.chromium, profile, extra=["--window-size=1440,1100"])
        with connect(page_socket(browser), max_size=64 * 1024 * 1024, open_timeout=30) as socket:
            tools = DevTools(socket)
            tools.call("Page.enable")
            tools.call("Runtime.enable")
            tools.call("Page.navigate", {"url": args.url})
            deadline = started + args.timeout
            probe = None
            while time.monotonic() < deadline:
                try:
                    probe = tools.evaluate(PROBE)
                except RuntimeError:
                    probe = None
                if probe and complete(probe, args.requeue):
                    break
                time.sleep(0.5)
            report["probe"] = probe
            report["phases"] = {"probe": round(time.monotonic() - started, 1)}
            ok = bool(probe) and complete(probe, args.requeue)
            # The screenshot shows the page as it was checked: before the requeue and any restart.
            shot = tools.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
            os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
            with open(args.screenshot, "wb") as file:
                file.write(base64.b64decode(shot["data"]))
            report["screenshot"] = os.path.abspath(args.screenshot)
            if ok:
                report["filtered"] = check_filter(tools, "price.updated.*", r"^price\.updated\.", deadline)
                ok = bool(report["filtered"]) and report["filtered"]["all_match"]
                ok = ok and check_filter(tools, "*", r".", deadline) is not None
                report["phases"]["filter"] = round(time.monotonic() - started, 1)
            if ok and args.requeue:
                target = probe["dead_letters"][0]
                selector = json.dumps(f'#dlq-body button.requeue[data-id="{target["id"]}"]')
                clicked = tools.evaluate(f"(() => {{ const b = document.querySelector({selector}); if (!b) return false; b.click(); return true; }})()")
                # The page removes the row once the gateway confirms; two polls later, the event
                # must still be absent (a letter dead-lettered again would come back with a new id).
                requeued = False
                while clicked and time.monotonic() < deadline:
                    if tools.evaluate("document.getElementById('dlq-panel').dataset.lastRequeued") == target["id"]:
                        requeued = True
                        break
                    time.sleep(0.2)
                polls = set()
                while requeued and len(polls) < 3 and time.monotonic() < deadline:
                    polls.add(tools.evaluate("document.getElementById('poll-status').textContent"))
                    time.sleep(0.5)
                event = json.dumps(f'#dlq-body tr[data-event="{target["event"]}"]')
                absent = requeued and len(polls) >= 3 and tools.evaluate(f"document.querySelector({event}) === null")
                report["requeued"] = target if absent else None
                ok = bool(absent)
                report["phases"]["requeue"] = round(time.monotonic() - started, 1)
            if ok and args.restart_handshake:
                ok = await_restart(args.restart_handshake, 1, report, deadline)
                report["phases"]["restart-1"] = round(time.monotonic() - started, 1)
                report["reconnected"] = await_reconnect(tools, 1, deadline, report) if ok else None
                ok = report["reconnected"] is not None
            if ok and args.token:
                ok = await_restart(args.restart_handshake, 2, report, deadline)
                report["phases"]["restart-2"] = round(time.monotonic() - started, 1)
                report["token"] = check_token(tools, args.token, deadline, report) if ok else None
                ok = report["token"] is not None
        report["ok"] = ok
        status = 0 if ok else 1
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
