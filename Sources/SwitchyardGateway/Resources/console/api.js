// Calls to the HTTP API, with the token as a bearer credential.
// Every string that comes from the server is put in the page as text (textContent, never HTML).

import { state } from "./state.js";

export class HTTPError extends Error {
  constructor(status, body) {
    super(body && body.message ? `${status} ${body.error_type}: ${body.message}` : `HTTP ${status}`);
    this.status = status;
  }
}

export async function api(path, options = {}) {
  const headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  const response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) throw new HTTPError(response.status, body);
  return body;
}

export function explain(error) {
  if (error instanceof HTTPError && error.status === 401) return "unauthorized: enter a token above";
  if (error instanceof HTTPError && error.status === 403) return "forbidden: the token does not grant this";
  return String(error.message || error);
}
