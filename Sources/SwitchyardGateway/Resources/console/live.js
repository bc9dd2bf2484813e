// The WebSocket /v1/ws: the live tail, live error alerts, reconnect with resume.
// Every string that comes from the server is put in the page as text (textContent, never HTML).

import { $, state, ALERT_CHANNEL, TAIL_MAX } from "./state.js";
import { el, time, note, globToRegExp } from "./dom.js";
import { addAlertEvent } from "./panels.js";
import { api } from "./api.js";

function setStatus(kind, text) {
  const status = $("ws-status");
  status.dataset.state = kind;
  status.textContent = text || kind;
}

// The tail's pattern and the alert channel in two frames, so that a token without a grant on
// one still gets the other.
function subscribe(resume) {
  const extra = resume && Object.keys(resume).length ? { resume } : {};
  send(Object.assign({ type: "subscribe", id: "tail", patterns: [state.pattern] }, extra));
  if (state.pattern !== ALERT_CHANNEL) send(Object.assign({ type: "subscribe", id: "alerts", patterns: [ALERT_CHANNEL] }, extra));
}

// Drops from the resume point the channels whose last sequence number on the server is below
// the one received: the gateway restarted on the embedded engine, which starts them again at 1.
async function forgetResetChannels() {
  if (!Object.keys(state.lastSeq).length) return;
  let body;
  try { body = await api("/v1/channels"); } catch (_) { return; }
  const last = new Map((body.channels || []).map((c) => [c.channel, Number(c.last_sequence_number)]));
  for (const channel of Object.keys(state.lastSeq)) {
    if (!(last.get(channel) >= state.lastSeq[channel])) delete state.lastSeq[channel];
  }
}

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
}

export function connect() {
  clearTimeout(state.reconnectTimer);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/v1/ws` + (state.token ? "?token=" + encodeURIComponent(state.token) : "");
  setStatus(state.attempt ? "reconnecting" : "connecting", state.attempt ? `reconnecting (attempt ${state.attempt})` : "connecting");
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.onopen = async () => {
    state.attempt = 0;
    setStatus("connected", "live");
    await forgetResetChannels();
    if (state.ws !== ws) return;
    if (state.connections > 0) {
      const resumed = Object.keys(state.lastSeq).length;
      $("ws-status").dataset.reconnects = String(state.connections);
      queueRow(el("tr", { class: "reconnect" }, el("td", {}, new Date().toISOString().slice(11, 23)), el("td", {}, ""), el("td", {}, ""),
        el("td", {}, ""), el("td", {}, `reconnected; resuming ${resumed} channel${resumed === 1 ? "" : "s"} after the last sequence number received`)));
    }
    state.connections += 1;
    subscribe(state.lastSeq);
  };
  ws.onmessage = (message) => {
    let frame;
    try { frame = JSON.parse(message.data); } catch (_) { return; }
    handleFrame(frame);
  };
  ws.onclose = (event) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.attempt += 1;
    const delay = Math.min(10000, 500 * 2 ** Math.min(state.attempt - 1, 5)) * (0.8 + Math.random() * 0.4);
    const why = event.code === 4008 ? "slow consumer" : event.code === 1001 ? "gateway going away" : "closed " + event.code;
    setStatus("reconnecting", `reconnecting in ${(delay / 1000).toFixed(1)} s (${why}); resumes from last seq`);
    state.reconnectTimer = setTimeout(connect, delay);
  };
}

function handleFrame(frame) {
  switch (frame.type) {
    case "event": {
      const envelope = frame.envelope || {};
      const channel = envelope.channel;
      if (typeof envelope.sequence_number === "number") {
        state.lastSeq[channel] = Math.max(state.lastSeq[channel] || 0, envelope.sequence_number);
      }
      if (channel === ALERT_CHANNEL) addAlertEvent(envelope);
      if (globToRegExp(state.pattern).test(channel)) {
        state.received += 1;
        queueRow(eventRow(envelope));
      }
      break;
    }
    case "gap":
      queueRow(el("tr", { class: "gap" }, el("td", {}, ""), el("td", {}, frame.channel),
        el("td", { class: "num" }, `${frame.from}-${frame.to}`), el("td", {}, ""),
        el("td", {}, "these events are no longer stored and could not be sent")));
      break;
    case "refused":
      if (typeof frame.sequence_number === "number") {
        state.lastSeq[frame.channel] = Math.max(state.lastSeq[frame.channel] || 0, frame.sequence_number);
      }
      queueRow(el("tr", { class: "gap" }, el("td", {}, ""), el("td", {}, frame.channel),
        el("td", { class: "num" }, `${frame.sequence_number}`), el("td", {}, ""),
        el("td", {}, "withheld: " + ((frame.error && frame.error.error_type) || "refused"))));
      break;
    case "error": {
      const message = "server: " + ((frame.error && frame.error.message) || "error");
      if (frame.id === "alerts") note("alerts-note", message); else note("tail-note", message);
      break;
    }
    case "subscribed":
      if (frame.id !== "alerts") note("tail-note", "subscribed to " + (frame.patterns || []).join(", "));
      break;
    default:
      break;
  }
}

function eventRow(envelope) {
  const data = JSON.stringify(envelope.data);
  return el("tr", { class: "event", "data-channel": envelope.channel, "data-seq": envelope.sequence_number },
    el("td", {}, time(envelope.timestamp)),
    el("td", {}, envelope.channel),
    el("td", { class: "num" }, envelope.sequence_number),
    el("td", {}, envelope.source),
    el("td", { class: "data", title: data }, data.length > 240 ? data.slice(0, 240) + "…" : data));
}

function queueRow(row) {
  if (state.paused) return;
  state.pendingRows.push(row);
  if (state.pendingRows.length === 1) requestAnimationFrame(flushRows);
}

function flushRows() {
  const body = $("tail-body");
  const rows = state.pendingRows.splice(0).slice(-TAIL_MAX).reverse();
  body.prepend(...rows);
  while (body.rows.length > TAIL_MAX) body.lastChild.remove();
  $("tail-count").textContent = `${state.received} received for ${state.pattern}; newest first, last ${TAIL_MAX} kept`;
}

export function changePattern(pattern) {
  const previous = state.pattern;
  if (!pattern || pattern === previous) return;
  state.pattern = pattern;
  localStorage.setItem("switchyard.pattern", pattern);
  const matches = globToRegExp(pattern);
  for (const channel of Object.keys(state.lastSeq)) {
    if (channel !== ALERT_CHANNEL && !matches.test(channel)) delete state.lastSeq[channel];
  }
  if (previous !== ALERT_CHANNEL) send({ type: "unsubscribe", patterns: [previous] });
  send({ type: "subscribe", id: "tail", patterns: [pattern] });
  state.received = 0;
  state.pendingRows.length = 0;  // rows of the old pattern not yet on the page
  $("tail-body").replaceChildren();
  $("tail-count").textContent = "";
}
