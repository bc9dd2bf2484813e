// The live tail and live error alerts, through the browser client the gateway serves at
// /v1/client.js: reconnect with backoff, resume from the last sequence numbers, dedup by event_id.
// Every string that comes from the server is put in the page as text (textContent, never HTML).

import { connect as connectClient } from "/v1/client.js";
import { $, state, ALERT_CHANNEL, TAIL_MAX } from "./state.js";
import { el, time, note } from "./dom.js";
import { addAlertEvent } from "./panels.js";
import { api } from "./api.js";

let client = null;
let unsubscribeTail = () => {};

function setStatus(kind, text) {
  const status = $("ws-status");
  status.dataset.state = kind;
  status.textContent = text || kind;
}

// Drops from the resume point the channels whose last sequence number on the server is below
// the one received: the gateway restarted on the embedded engine, which starts them again at 1.
async function forgetResetChannels(positions) {
  let body;
  try { body = await api("/v1/channels"); } catch (_) { return positions; }
  const last = new Map((body.channels || []).map((c) => [c.channel, Number(c.last_sequence_number)]));
  return Object.fromEntries(Object.entries(positions).filter(([channel, sequence]) => last.get(channel) >= sequence));
}

function showState(change) {
  switch (change.state) {
    case "connecting":
      setStatus(change.attempt ? "reconnecting" : "connecting", change.attempt ? `reconnecting (attempt ${change.attempt + 1})` : "connecting");
      break;
    case "open":
      setStatus("connected", "live");
      if (change.connections > 1) {
        const resumed = Object.keys(client.positions()).length;
        $("ws-status").dataset.reconnects = String(change.connections - 1);
        queueRow(el("tr", { class: "reconnect" }, el("td", {}, new Date().toISOString().slice(11, 23)), el("td", {}, ""), el("td", {}, ""),
          el("td", {}, ""), el("td", {}, `reconnected; resuming ${resumed} channel${resumed === 1 ? "" : "s"} after the last sequence number received`)));
      }
      break;
    case "reconnecting": {
      const why = change.code === 4008 ? "slow consumer" : change.code === 1001 ? "gateway going away" : change.reason || "closed";
      setStatus("reconnecting", `reconnecting in ${(change.delay / 1000).toFixed(1)} s (${why}); resumes from last seq`);
      break;
    }
    case "unauthorized":
      setStatus("unauthorized", state.token ? "unauthorized: the token was refused" : "unauthorized: enter a token above");
      break;
    default:
      setStatus(change.state);
  }
}

// The tail's pattern and the alert channel are two subscriptions, so that a token without a
// grant on one still gets the other.
function subscribeTail() {
  unsubscribeTail = client.subscribe([state.pattern], (envelope) => {
    state.received += 1;
    queueRow(eventRow(envelope));
  }, {
    onSubscribed: () => note("tail-note", "subscribed to " + state.pattern),
    onError: (error) => note("tail-note", "server: " + (error.message || "error")),
  });
}

export function connect() {
  client = connectClient({ token: state.token, resume: state.lastSeq, beforeResume: forgetResetChannels });
  client.on("state", showState);
  client.on("gap", (gap) => queueRow(noticeRow(gap.channel, `${gap.from}-${gap.to}`, "these events are no longer stored and could not be sent")));
  client.on("refused", (refused) => queueRow(noticeRow(refused.channel, `${refused.sequence_number}`,
    "withheld: " + ((refused.error && refused.error.error_type) || "refused"))));
  client.on("conflated", (skip) => queueRow(noticeRow(skip.channel, `${skip.from}-${skip.to}`,
    `${skip.count} skipped: this page fell behind and the gateway sent the newest (conflated)`)));
  client.on("error", (error) => note("tail-note", "server: " + (error.message || "error")));
  client.subscribe([ALERT_CHANNEL], addAlertEvent, { onError: (error) => note("alerts-note", "server: " + (error.message || "error")) });
  subscribeTail();
}

export function useToken(token) {
  if (client) client.setToken(token);
}

function noticeRow(channel, sequences, text) {
  return el("tr", { class: "gap" }, el("td", {}, ""), el("td", {}, channel), el("td", { class: "num" }, sequences), el("td", {}, ""), el("td", {}, text));
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
  if (!pattern || pattern === state.pattern) return;
  state.pattern = pattern;
  localStorage.setItem("switchyard.pattern", pattern);
  unsubscribeTail();
  state.received = 0;
  state.pendingRows.length = 0;  // rows of the old pattern not yet on the page
  $("tail-body").replaceChildren();
  $("tail-count").textContent = "";
  subscribeTail();
}
