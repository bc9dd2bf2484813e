// The state keys panel: the state-key table from GET /v1/state, with the current value and TTL of
// each plain key the token may read. Every string from the server is put in the page as text.

import { $ } from "./state.js";
import { el, note } from "./dom.js";
import { api } from "./api.js";

export async function refreshStateKeys() {
  const body = await api("/v1/state");
  const keys = body.keys || [];
  $("state-body").replaceChildren(...keys.map((k) => {
    const current = k.current;
    const value = current ? JSON.stringify(current.value) : k.pattern ? "(pattern)" : current === null ? "(missing)" : "";
    const left = current && current.ttl_seconds !== null ? current.ttl_seconds + " s" : current ? "no expiry" : "";
    return el("tr", { "data-key": k.key, title: k.origin || "" },
      el("td", {}, k.key),
      el("td", {}, k.ttl === null ? "never" : k.ttl),
      el("td", { class: "num" }, left),
      el("td", { class: "reason", title: value }, value.length > 120 ? value.slice(0, 120) + "…" : value),
      el("td", { class: "muted" }, k.description || ""));
  }));
  note("state-note", keys.length ? "" : "no state keys configured");
}
