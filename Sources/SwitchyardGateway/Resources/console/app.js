// The Switchyard live console: polls the HTTP API every 2 s and follows /v1/ws (docs/console.md).
// Every string that comes from the server is put in the page as text (textContent, never HTML).

import { $, state } from "./state.js";
import { loadRecentAlerts, poll } from "./panels.js";
import { connect, changePattern, useToken } from "./live.js";

function start() {
  $("filter").value = state.pattern;
  $("token").value = state.token;
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    changePattern($("filter").value.trim());
  });
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    $("pause").textContent = state.paused ? "resume" : "pause";
  });
  $("clear").addEventListener("click", () => { state.pendingRows.length = 0; $("tail-body").replaceChildren(); });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    if (state.token) localStorage.setItem("switchyard.token", state.token); else localStorage.removeItem("switchyard.token");
    useToken(state.token);
  });
  loadRecentAlerts().finally(connect);
  poll();
}

start();
