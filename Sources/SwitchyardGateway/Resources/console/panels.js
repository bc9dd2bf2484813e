// The panels fed by polling the HTTP API every 2 s: channels and rates, groups, dead letters, alerts, services.
// Every string that comes from the server is put in the page as text (textContent, never HTML).

import { $, state, POLL_MS, ALERT_CHANNEL, ALERT_EVENTS_MAX, CHANNEL_NAME, SPARK_POINTS } from "./state.js";
import { el, number, time, note, sparkline, severityClass } from "./dom.js";
import { api, explain, HTTPError } from "./api.js";
import { refreshStateKeys } from "./state-keys.js";

async function refreshChannels() {
  const body = await api("/v1/channels");
  const channels = (body.channels || []).slice().sort((a, b) => String(a.channel).localeCompare(String(b.channel)));
  const rows = [];
  for (const info of channels) {
    const rate10 = info.publish_rate ? Number(info.publish_rate["10s"]) || 0 : 0;
    const rate60 = info.publish_rate ? Number(info.publish_rate["60s"]) || 0 : 0;
    const history = state.rates.get(info.channel) || [];
    history.push(rate10);
    while (history.length > SPARK_POINTS) history.shift();
    state.rates.set(info.channel, history);
    const dead = Number(info.dead_letters) || 0;
    rows.push(el("tr", { "data-channel": info.channel, "data-rate": rate10 },
      el("td", {}, info.channel),
      el("td", {}, sparkline(history)),
      el("td", { class: "num" }, number(rate10, 2)),
      el("td", { class: "num" }, number(rate60, 2)),
      el("td", { class: "num" }, info.last_sequence_number ?? ""),
      el("td", { class: "num" }, info.length ?? ""),
      el("td", {}, (info.groups || []).join(" ")),
      el("td", { class: dead > 0 ? "num bad" : "num" }, dead)));
  }
  $("channels-body").replaceChildren(...rows);
  note("channels-note", channels.length ? "" : "no channel has events yet");
  return channels;
}

async function refreshGroups() {
  const body = await api("/v1/groups");
  const groups = (body.groups || []).slice().sort((a, b) =>
    String(a.group).localeCompare(String(b.group)) || String(a.channel).localeCompare(String(b.channel)));
  $("groups-body").replaceChildren(...groups.map((g) => {
    const lag = Number(g.lag) || 0, seconds = Number(g.lag_seconds) || 0;
    return el("tr", { "data-group": g.group, "data-channel": g.channel, "data-lag": lag, "data-lag-seconds": seconds },
      el("td", {}, g.group),
      el("td", {}, g.channel),
      el("td", { class: lag > 0 ? "num warn" : "num" }, lag),
      el("td", { class: seconds > 10 ? "num bad" : seconds > 0 ? "num warn" : "num" }, number(seconds, 1)),
      el("td", { class: "num" }, g.pending ?? ""));
  }));
  note("groups-note", groups.length ? "" : "no consumer groups");
}

async function refreshDeadLetters(channels) {
  const withLetters = channels.filter((c) => Number(c.dead_letters) > 0 && CHANNEL_NAME.test(c.channel));
  const lists = await Promise.all(withLetters.map(async (c) => {
    const body = await api(`/v1/dlq/${c.channel}?limit=50`);
    return (body.dead_letters || []).map((letter) => ({ channel: c.channel, letter }));
  }));
  const rows = [];
  for (const { channel, letter } of lists.flat()) {
    const reason = letter.error && typeof letter.error === "object" ? (letter.error.message || JSON.stringify(letter.error)) : String(letter.error ?? "");
    const button = el("button", { type: "button", class: "requeue", "data-id": letter.id, title: "deliver it again to " + letter.group }, "requeue");
    button.addEventListener("click", () => requeue(channel, letter.id, button));
    rows.push(el("tr", { "data-id": letter.id, "data-channel": channel, "data-event": letter.envelope ? letter.envelope.event_id : "" },
      el("td", {}, channel),
      el("td", {}, letter.group),
      el("td", { class: "num" }, letter.envelope ? letter.envelope.sequence_number : ""),
      el("td", { class: "reason", title: JSON.stringify(letter.error) }, reason),
      el("td", { class: "num" }, letter.deliveries ?? ""),
      el("td", {}, time(letter.failed_at)),
      el("td", {}, button)));
  }
  $("dlq-body").replaceChildren(...rows);
  note("dlq-note", rows.length ? "" : "no dead letters");
}

async function requeue(channel, id, button) {
  button.disabled = true;
  try {
    const body = await api(`/v1/dlq/${channel}`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: "requeue", ids: [id] }),
    });
    note("dlq-note", `requeued ${body.found} of ${body.requested} on ${channel}`);
    if (body.found > 0) $("dlq-panel").dataset.lastRequeued = id;
    const row = button.closest("tr");
    if (row && body.found > 0) row.remove();
  } catch (error) {
    button.disabled = false;
    note("dlq-note", "requeue failed: " + explain(error));
  }
}

async function refreshAlerts() {
  let body;
  try {
    body = await api("/v1/alerts");
  } catch (error) {
    if (error instanceof HTTPError && error.status === 404) {
      $("alerts").hidden = true;
      note("alerts-note", "no alert rules on this gateway; error alerts below come live from " + ALERT_CHANNEL);
      return;
    }
    throw error;
  }
  const alerts = Array.isArray(body && body.alerts) ? body.alerts : [];
  $("alerts").hidden = alerts.length === 0;
  note("alerts-note", alerts.length ? "" : "no alerts");
  $("alerts-body").replaceChildren(...alerts.map((a) => el("tr", { "data-alert": a.id ?? a.name ?? "" , title: JSON.stringify(a) },
    el("td", { class: severityClass(a.severity) }, a.severity ?? ""),
    el("td", {}, a.name ?? a.rule ?? a.alert_type ?? a.id ?? ""),
    el("td", {}, a.state ?? a.status ?? ""),
    el("td", { class: "reason" }, a.message ?? a.summary ?? a.description ?? ""),
    el("td", {}, time(a.since ?? a.started_at ?? a.fired_at ?? a.timestamp ?? "")))));
}

async function refreshServices() {
  let body;
  try {
    body = await api("/v1/health/services");
  } catch (error) {
    if (error instanceof HTTPError && error.status === 404) { note("services-note", "this gateway tracks no heartbeats"); return; }
    throw error;
  }
  const services = (body.services || []).slice().sort((a, b) => String(a.service).localeCompare(String(b.service)));
  $("services-body").replaceChildren(...services.map((s) => {
    const status = s.unresponsive ? "unresponsive" : s.status;
    const css = s.unresponsive || status === "unhealthy" ? "bad" : status === "degraded" ? "warn" : "ok";
    return el("tr", { "data-service": s.service }, el("td", {}, s.service), el("td", { class: css }, status), el("td", {}, time(s.last_seen)));
  }));
  note("services-note", services.length ? "" : "no heartbeats yet");
}

export function addAlertEvent(envelope) {
  const d = envelope.data || {};
  const body = $("alert-events-body");
  body.prepend(el("tr", { title: JSON.stringify(d.details ?? {}) },
    el("td", {}, time(d.timestamp ?? envelope.timestamp)),
    el("td", { class: severityClass(d.severity) }, d.severity ?? ""),
    el("td", {}, d.service ?? envelope.source),
    el("td", {}, d.alert_type ?? ""),
    el("td", { class: "reason" }, d.message ?? "")));
  while (body.rows.length > ALERT_EVENTS_MAX) body.lastChild.remove();
}

// The last quarter hour's error alerts, so the panel is not empty on load; the WebSocket then
// resumes the channel after the last one shown.
export async function loadRecentAlerts() {
  const since = new Date(Date.now() - 15 * 60 * 1000).toISOString();
  try {
    const body = await api(`/v1/replay?channel=${ALERT_CHANNEL}&since=${encodeURIComponent(since)}&limit=1000`);
    const events = (body.events || []).slice(-ALERT_EVENTS_MAX);
    for (const envelope of events) addAlertEvent(envelope);
    if (events.length) state.lastSeq[ALERT_CHANNEL] = events[events.length - 1].sequence_number;
  } catch (error) {
    note("alerts-note", "recent error alerts: " + explain(error));
  }
}

export async function poll() {
  const failures = [];
  const guard = (name, promise) => promise.catch((error) => { failures.push(`${name}: ${explain(error)}`); return null; });
  const [channels] = await Promise.all([
    guard("channels", refreshChannels()), guard("groups", refreshGroups()),
    guard("alerts", refreshAlerts()), guard("services", refreshServices()), guard("state keys", refreshStateKeys()),
  ]);
  if (channels) await guard("dead letters", refreshDeadLetters(channels));
  const status = $("poll-status");
  status.textContent = failures.length ? failures.join("; ") : "updated " + new Date().toISOString().slice(11, 19) + " UTC";
  status.className = failures.length ? "bad" : "muted";
  setTimeout(poll, POLL_MS);
}
