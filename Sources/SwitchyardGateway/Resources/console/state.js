// The console's shared state and settings.
// Every string that comes from the server is put in the page as text (textContent, never HTML).

export const POLL_MS = 2000;
export const TAIL_MAX = 200;
export const ALERT_EVENTS_MAX = 30;
export const SPARK_POINTS = 60;
export const ALERT_CHANNEL = "system:error_alert";
export const CHANNEL_NAME = /^[A-Za-z0-9_-]+([:.][A-Za-z0-9_-]+)*$/;

// A token given once as ?token=… is kept in localStorage and taken out of the address bar.
const query = new URLSearchParams(location.search);
if (query.get("token")) {
  localStorage.setItem("switchyard.token", query.get("token"));
  query.delete("token");
  history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : "") + location.hash);
}

export const state = {
  token: localStorage.getItem("switchyard.token") || "",
  pattern: localStorage.getItem("switchyard.pattern") || "*",
  lastSeq: {},          // channel -> sequence number the live connection starts after
  rates: new Map(),     // channel -> recent 10 s rates, oldest first
  paused: false,
  received: 0,
  pendingRows: [],
};

export const $ = (id) => document.getElementById(id);
