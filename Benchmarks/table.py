#!/usr/bin/env python3
"""Prints the rows of the table at the top of docs/benchmarks.md from one Benchmarks/run log.

Usage: python3 Benchmarks/table.py .build/benchmarks.log
Each row: figure | Switchyard | anchor measured in the same run | ratio | command.
A figure the log lacks is printed as "not measured" rather than left out.
"""
import json
import re
import sys

log = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()


def find(pattern, flags=0):
    """The first match of pattern over the log's lines, or None."""
    for line in log:
        m = re.search(pattern, line, flags)
        if m:
            return m
    return None


def num(pattern, group=1):
    m = find(pattern)
    return float(m.group(group)) if m else None


def best(pattern):
    """The largest value over every line matching pattern (RedisLatencyBench measures twice)."""
    values = [float(m.group(1)) for m in (re.search(pattern, line) for line in log) if m]
    return max(values) if values else None


section = None
python = {}
outbox = {"python": [], "switchyard": []}
benches = {}
sweeps = {}
for line in log:
    if line.startswith("sweep "):
        tag, _, payload = line[6:].partition(" ")
        try:
            sweeps[tag] = json.loads(payload)
        except json.JSONDecodeError:
            pass
    if line.startswith("--- ") or line.startswith("=== "):
        section = line
    if line.startswith("bench "):
        tag, _, payload = line[6:].partition(" ")
        try:
            benches[tag] = json.loads(payload)
        except json.JSONDecodeError:
            pass
    if line.startswith("{") and section:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "Python baseline (shared/baseline)" in section:
            key = (record.get("kind"), record.get("mode") or record.get("producer"))
            python[key] = record
        elif "py_outbox_baseline" in section:
            outbox["python"].append(record)
        elif "outbox-bench" in section:
            outbox["switchyard"].append(record)


def rate(value):
    return "not measured" if value is None else f"{value:,.0f}/s"


def ms(value):
    return "not measured" if value is None else (f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms")


def ratio(ours, anchor, lower_is_better=False):
    if ours is None or anchor is None or ours == 0 or anchor == 0:
        return "—"
    r = anchor / ours if lower_is_better else ours / anchor
    if lower_is_better:
        return f"{r:.2f}× lower" if r >= 1 else f"{1 / r:.2f}× higher"
    return f"{r * 100:.0f} %" if r < 1.5 else f"{r:.1f}×"


rows = []


def row(figure, ours, anchor, ratio_text, command):
    rows.append(f"| {figure} | {ours} | {anchor} | {ratio_text} | `{command}` |")


# --- the Redis client against redis-benchmark
ping_anchor = num(r"PING(?:_INLINE|_MBULK)?: ([\d.]+) requests per second")
xadd1 = num(r"^XADD -P 1: .*?([\d.]+) requests per second")
xadd64 = num(r"^XADD -P 64: .*?([\d.]+) requests per second")
xadd1000 = num(r"^XADD -P 1000: .*?([\d.]+) requests per second")
lua1 = num(r"^publish.lua \(one event per call\) -P 1: ([\d.]+) requests per second")
lua64 = num(r"^publish.lua \(one event per call\) -P 64: ([\d.]+) requests per second")
ping_loop = best(r"PING sequential, on the loop \(default executor\)\s+([\d.]+) ops/s")
xadd_loop = best(r"XADD sequential, on the loop \(default executor\)\s+([\d.]+) ops/s")
p64 = best(r"XADD pipelined x64, (?:task|on the loop) \(default executor\)\s+([\d.]+) ops/s")
p1000 = best(r"XADD pipelined x1000, (?:task|on the loop) \(default executor\)\s+([\d.]+) ops/s")
row("Redis client: PING sequential, on its event loop", rate(ping_loop), f"redis-benchmark -c 1 -P 1 PING: {rate(ping_anchor)}", ratio(ping_loop, ping_anchor), "RedisLatencyBench")
row("Redis client: XADD sequential, on its event loop", rate(xadd_loop), f"redis-benchmark -P 1 XADD: {rate(xadd1)}", ratio(xadd_loop, xadd1), "RedisLatencyBench")
row("Redis client: XADD pipelined ×64 / ×1000", f"{rate(p64)} / {rate(p1000)}", f"-P 64: {rate(xadd64)} / -P 1000: {rate(xadd1000)}", f"{ratio(p64, xadd64)} / {ratio(p1000, xadd1000)}", "RedisLatencyBench")
m = find(r"XADD->XREADGROUP, two loops.*?p50\s+([\d.]+) us.*?p99\s+([\d.]+) us")
row("Redis client: XADD → blocked XREADGROUP, two loops", f"p50 {m.group(1)} µs, p99 {m.group(2)} µs" if m else "not measured", "—", "—", "RedisLatencyBench")

# --- Redis's CPU per event: the publish script against plain XADD + PUBLISH
cpu_xadd = num(r"^cpu XADD -P 64: ([\d.]+) us/event")
cpu_publish = num(r"^cpu PUBLISH -P 64: ([\d.]+) us/event")
cpu_lua1 = num(r"^cpu publish.lua 1 event per call -P 64: ([\d.]+) us/event")
cpu_lua10 = num(r"^cpu publish.lua 10 events per call -P 16: ([\d.]+) us/event")
plain = cpu_xadd + cpu_publish if cpu_xadd is not None and cpu_publish is not None else None


def us(value):
    return "not measured" if value is None else f"{value:.1f} µs"


def times(ours, anchor):
    return "—" if ours is None or not anchor else f"{ours / anchor:.1f}× the plain commands"


row("redis-server CPU per event, publish.lua, 10 events per call / 1 per call (pipelined)", f"{us(cpu_lua10)} / {us(cpu_lua1)}",
    f"plain XADD + PUBLISH, pipelined ×64: {us(plain)}", f"{times(cpu_lua10, plain)} / {times(cpu_lua1, plain)}",
    "redis-benchmark EVALSHA publish.lua, CPU from INFO cpu")

# --- the router on Redis
pub100 = num(r"publish batch=100: .*= (\d+) events/s")
pub1 = num(r"^publish batch=1: .*= (\d+) events/s")
pub1loop = num(r"^publish-on-loop batch=1: .*= (\d+) events/s")
consume = num(r"consume batch=1000: .*= (\d+) events/s")
py_pipe = python.get(("throughput", "pipeline"), {}).get("events_per_s")
py_single = python.get(("throughput", "single"), {}).get("events_per_s")
row("router on Redis: validated, scripted publish, batches of 100", rate(pub100), f"server limit, redis-benchmark -P 64 running publish.lua: {rate(lua64)}", ratio(pub100, lua64), "router-redis-bench publish 200000 100")
row("the same against the Python baseline, pipelined ×100", rate(pub100), f"Python: {rate(py_pipe)}", ratio(pub100, py_pipe), "py_router_baseline.py throughput --mode pipeline --validator compiled")
row("router on Redis: single publishes, one at a time", rate(pub1), f"publish.lua -P 1: {rate(lua1)}; Python single: {rate(py_single)}", f"{ratio(pub1, lua1)} / {ratio(pub1, py_single)}", "router-redis-bench publish 20000 1")
row("the same on one of the client's event loops", rate(pub1loop), f"publish.lua -P 1: {rate(lua1)}", ratio(pub1loop, lua1), "router-redis-bench publish-on-loop 20000 1")
row("router on Redis: one consumer process, batches of 1000", rate(consume), "—", "—", "router-redis-bench consume 200000 1000")
m = find(r"^latency rate=1000/s .*vs schedule p50 ([\d.]+) ms, p99 ([\d.]+) ms")
py = python.get(("latency", "single"), {})
row("publish → group handler vs schedule, 1k/s offered, p50 / p99", f"{ms(float(m.group(1)))} / {ms(float(m.group(2)))}" if m else "not measured",
    f"Python: {ms(py.get('stream_sched_p50_ms'))} / {ms(py.get('stream_sched_p99_ms'))}", ratio(float(m.group(2)) if m else None, py.get("stream_sched_p99_ms"), True) + " (p99)", "router-redis-bench latency 1000 10")
m = find(r"^latency-batch rate=10000/s .*vs schedule p50 ([\d.]+) ms, p99 ([\d.]+) ms")
pyb = python.get(("latency", "batch"), {})
row("the same at 10k/s, batching producer, p50 / p99", f"{ms(float(m.group(1)))} / {ms(float(m.group(2)))}" if m else "not measured",
    f"Python batch producer: {ms(pyb.get('stream_sched_p50_ms'))} / {ms(pyb.get('stream_sched_p99_ms'))}", ratio(float(m.group(2)) if m else None, pyb.get("stream_sched_p99_ms"), True) + " (p99)", "router-redis-bench latency-batch 10000 5")

# --- switchyard bench
for tag, label, command in [
    ("embedded-10x1000", "`switchyard bench`, embedded: 10 publishers × 1,000/s, a group of 2, 10 WebSocket clients",
     "switchyard bench --publishers 10 --rate 1000 --duration 20 --groups 1 --consumers 2 --ws-clients 10"),
    ("redis-10x1000", "`switchyard bench`, Redis: the same",
     "switchyard bench --redis URL --publishers 10 --rate 1000 --duration 20 --groups 1 --consumers 2 --ws-clients 10"),
]:
    b = benches.get(tag)
    if not b:
        row(label, "not measured", "—", "—", command)
        continue
    g = b["groups"][0] if b["groups"] else {}
    ws = b.get("websocket") or {}
    server = b.get("server")
    cpu = f"; bench process {b['process']['cpu_percent']:.0f} % CPU, {b['process']['rss_bytes'] / 1048576:.0f} MiB" if b.get("process") else ""
    if server:
        cpu += f"; redis-server {server['cpu_percent']:.0f} % CPU, {server['rss_bytes'] / 1048576:.0f} MiB"
    ours = (f"{rate(b['publish']['throughput'])} acked; group p50 {ms(g.get('latency', {}).get('p50'))}, p99 {ms(g.get('latency', {}).get('p99'))}, "
            f"p99.9 {ms(g.get('latency', {}).get('p999'))}, max {ms(g.get('latency', {}).get('max'))}; WebSocket {rate(ws.get('throughput'))} deliveries, "
            f"p99 {ms(ws.get('latency', {}).get('p99'))}; lost {b['lost']}, duplicates {g.get('duplicates', 0) + ws.get('duplicates', 0)}{cpu}")
    row(label, ours, f"Python at 10k/s, batch producer, group p99: {ms(pyb.get('stream_sched_p99_ms'))}",
        ratio(g.get("latency", {}).get("p99"), pyb.get("stream_sched_p99_ms"), True) + " (group p99)", command)
b = benches.get("redis-saturated")
row("`switchyard bench`, Redis, 4 publishers offered 100k/s (past the limit), no consumers", rate(b["publish"]["throughput"]) if b else "not measured",
    f"server limit, publish.lua -P 64: {rate(lua64)}", ratio(b["publish"]["throughput"] if b else None, lua64),
    "switchyard bench --redis URL --publishers 4 --rate 25000 --duration 10 --groups 0")

# --- the sweeps: the highest offered rate whose group p99 stays under the limit with nothing lost
for tag, label, command in [
    ("redis-ws", "highest offered rate with group p99 < 100 ms and nothing lost, Redis, 10 publishers, a group of 2, 10 WebSocket clients, one process",
     "switchyard bench --redis URL --publishers 10 --rate 1000 --sweep-step 1000 --sweep-ceiling 8000 --groups 1 --consumers 2 --ws-clients 10 --duration 10 --sweep"),
    ("redis", "the same without WebSocket clients",
     "switchyard bench --redis URL --publishers 10 --rate 2000 --sweep-step 1000 --sweep-ceiling 10000 --groups 1 --consumers 2 --duration 10 --sweep"),
    ("redis-ws-processes", "the same with 10 WebSocket clients, the clients and the group each in a process of their own",
     "switchyard bench --redis URL --publishers 10 --rate 1000 --sweep-step 1000 --sweep-ceiling 8000 --groups 1 --consumers 2 --ws-clients 10 --duration 10 --ws-process --group-process --sweep"),
]:
    sweep = sweeps.get(tag)
    if not sweep:
        row(label, "not measured", "—", "—", command)
        continue
    steps = sweep.get("steps", [])
    held = [step for step in steps if step.get("failure") is None]
    last = held[-1] if held else None
    failed = next((step for step in steps if step.get("failure")), None)
    text = f"{rate(sweep.get('held'))} held" if sweep.get("held") else "no step held"
    if last:
        g = last["report"]["groups"][0]["latency"] if last["report"]["groups"] else {}
        text += f" (group p99 {ms(g.get('p99'))}"
        ws = last["report"].get("websocket")
        if ws:
            text += f", WebSocket p99 {ms(ws['latency'].get('p99'))}"
        report = last["report"]
        costs = [(name, report.get(key) or {}) for key, name in [("process", "bench process"), ("group_process", "group process"),
                                                                  ("websocket_process", "WebSocket client process"), ("server", "redis-server")]
                 if key in ("process", "server") or report.get(key)]
        text += "; CPU per event: " + ", ".join(f"{name} {us(p.get('cpu_microseconds_per_event'))}" for name, p in costs)
        if report.get("group_process") or report.get("websocket_process"):
            text += f", together {us(report.get('total_cpu_microseconds_per_event'))}"
        text += ")"
    if failed:
        text += f"; {rate(failed['offered'])}: {failed['failure']}"
    row(label, text, "—", "—", command)

# --- WebSocket fan-out
for engine in ["embedded", "redis"]:
    m = find(rf"^{engine} engine: ws fan-out: .*?: ([\d.]+) deliveries/s; latency vs schedule p50 ([\d.]+) ms, p99 ([\d.]+) ms.*?missing (\d+) of (\d+).*?duplicates (\d+); server CPU (\d+)% of a core, RSS (\d+) MiB")
    row(f"WebSocket fan-out, {engine}: 1,000 clients × 100 events/s",
        f"{float(m.group(1)):,.0f} deliveries/s, p50 {m.group(2)} ms, p99 {m.group(3)} ms, missing {m.group(4)} of {int(m.group(5)):,}, duplicates {m.group(6)}, server {m.group(7)} % CPU, {m.group(8)} MiB" if m else "not measured",
        "—", "—", "ws-fanout-bench URL PID 1000 100 20")

# --- embedded backtest path and the JSON path
cpu = python.get(("throughput", "cpu"), {})
for name in ["shipped", "minimal", "minimal --batch 100"]:
    value = num(rf"^{re.escape(name)}: .*throughput: (\d+) events/s")
    row(f"embedded backtest path, {name} contract, handler inline", rate(value),
        f"Python validate + envelope only (no Redis): {rate(cpu.get('events_per_s'))}", ratio(value, cpu.get("events_per_s")),
        f"router-bench 1000000 {name}")

py_cpu = cpu.get("events_per_s")
for name in ["position --bus", "shipped --bus"]:
    value = num(rf"^{re.escape(name)}: .*throughput: (\d+) events/s")
    row(f"BacktestBus (synchronous backtest path), {name.split()[0]} contract, handler inline", rate(value),
        f"Python validate + envelope only (no Redis): {rate(py_cpu)}", ratio(value, py_cpu), f"router-bench 1000000 {name}")

# --- outbox
def pick(records, kind, **match):
    for record in records:
        if record.get("kind") == kind and all(record.get(k) == v for k, v in match.items()):
            return record
    return {}


for conns in [1, 8]:
    ours = pick(outbox["switchyard"], "write", conns=conns, path="commit").get("events_per_s")
    old = pick(outbox["switchyard"], "write", conns=conns, path="transaction").get("events_per_s")
    anchor = pick(outbox["python"], "write", conns=conns).get("events_per_s")
    row(f"outbox: committed events/s, {conns} connection{'s' if conns > 1 else ''}, Outbox.commit (withTransaction)",
        f"{rate(ours)} ({rate(old)})", f"Python outbox: {rate(anchor)}", f"{ratio(ours, anchor)} ({ratio(old, anchor)})",
        f"outbox-bench write {conns} 10 commit (transaction)")
ours = pick(outbox["switchyard"], "lag", path="commit")
anchor = pick(outbox["python"], "lag")
row("outbox writer: worst delay behind its schedule at 1k events/s", ms(ours.get("writer_max_behind_ms")),
    f"Python writer: {ms(anchor.get('writer_max_behind_ms'))}", ratio(ours.get("writer_max_behind_ms"), anchor.get("writer_max_behind_ms"), True), "outbox-bench lag 1000 10")
row("outbox: relay lag at 1k events/s offered, p50 / p99", f"{ms(ours.get('lag_p50_ms'))} / {ms(ours.get('lag_p99_ms'))}",
    f"Python relay (10 ms polling): {ms(anchor.get('lag_p50_ms'))} / {ms(anchor.get('lag_p99_ms'))}", ratio(ours.get("lag_p99_ms"), anchor.get("lag_p99_ms"), True) + " (p99)", "outbox-bench lag 1000 10")

for line in log:
    if line.startswith("machine:") or line.startswith("redis-server ") or line.startswith("load average") or line.startswith("PostgreSQL"):
        print(line)
print("| figure | Switchyard | anchor (same run) | ratio | command |")
print("|---|---|---|---|---|")
print("\n".join(rows))
