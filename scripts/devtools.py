"""Headless Chromium driven over the DevTools protocol, for the browser tests' scripts
(`console-check.py`, `client-check.py`): start Chromium, find its page, call and evaluate.

Needs the `websockets` package (the virtualenv scripts/test makes has it).
"""

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request


class DevTools:
    """One page's DevTools session over its WebSocket."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0

    def call(self, method, params=None, timeout=30):
        self.next_id += 1
        ident = self.next_id
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")


def start_chromium(binary, profile, extra=()):
    """Starts headless Chromium with a DevTools port; returns the process and the browser's DevTools URL."""
    process = subprocess.Popen(
        [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}", *extra, "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found = {}
    ready = threading.Event()
    lines = []

    def read():
        for line in process.stderr:
            lines.append(line)
            match = re.search(r"DevTools listening on (ws://[^\s]+)", line)
            if match and not ready.is_set():
                found["url"] = match.group(1)
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60) or "url" not in found:
        process.kill()
        raise RuntimeError("chromium did not open its DevTools port; its output:\n" + "".join(lines[-30:]))
    return process, found["url"]


def page_socket(browser_url):
    """The DevTools WebSocket URL of the browser's first page."""
    port = re.match(r"ws://[^:/]+:(\d+)/", browser_url).group(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.2)
    raise RuntimeError("chromium has no page target")


def stop_chromium(process, profile):
    """Stops Chromium (killed when it does not exit within 10 s) and removes its profile folder."""
    if process is not None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(profile, ignore_errors=True)
