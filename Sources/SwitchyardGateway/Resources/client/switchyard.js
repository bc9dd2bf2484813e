// Switchyard's browser client: live subscriptions over the gateway's WebSocket (/v1/ws) with
// gap-free resume, dedup by event_id, conflation notices and connection states.
// An ES module with no dependencies and no build step. The gateway serves it at /v1/client.js;
// the same file is clients/js/switchyard.js (docs/clients.md).

/**
 * An event as the gateway sends it: the envelope exactly as stored.
 * @template [T=unknown]
 * @typedef {object} Envelope
 * @property {string} event_id UUIDv7, unique per event.
 * @property {string} channel The channel it was published on.
 * @property {number} sequence_number Per channel, strictly increasing without gaps.
 * @property {string} timestamp RFC 3339, milliseconds, UTC.
 * @property {string} source The publishing service.
 * @property {string} [schema] Contract id and version, `channel@1`.
 * @property {T} data The payload.
 * @property {Record<string, unknown>} [metadata] Trace context, session, user.
 */

/**
 * The structured error of the gateway: `{"error_type","message","details"}`.
 * @typedef {object} ErrorBody
 * @property {string} error_type `unauthorized`, `forbidden`, `validation_error`, `limit_exceeded`, …
 * @property {string} message
 * @property {Record<string, unknown>} [details]
 */

/**
 * A publish's receipt.
 * @typedef {object} Receipt
 * @property {string} event_id
 * @property {string} channel
 * @property {number} [sequence_number]
 * @property {string} stream_id
 * @property {string} timestamp
 * @property {boolean} duplicate Whether the event id was stored before (the receipt is then the first publish's).
 */

/**
 * The connection's state, for a status indicator:
 * `idle` (not started), `connecting` (a handshake in flight), `open` (subscriptions live),
 * `reconnecting` (waiting out the backoff before the next attempt), `unauthorized` (the gateway
 * refused the token: 401, or 403 for this page's origin), `closed` (closed by the app).
 * @typedef {"idle" | "connecting" | "open" | "reconnecting" | "unauthorized" | "closed"} ConnectionState
 */

/**
 * What a `state` listener is told.
 * @typedef {object} StateChange
 * @property {ConnectionState} state
 * @property {ConnectionState} previous
 * @property {number} attempt Attempts in a row that failed or did not stay open for 5 s.
 * @property {number} connections How many times a connection has opened so far (1 on the first open).
 * @property {number} [delay] With `reconnecting`: milliseconds until the next attempt.
 * @property {number} [code] The WebSocket close code that ended the last connection.
 * @property {string} [reason] Why the last connection ended, in words.
 * @property {ErrorBody} [error] With `unauthorized`: the gateway's refusal.
 */

/**
 * Events of a conflatable channel the gateway skipped for this connection because it fell behind
 * (its queue was full): the next event delivered is `to + 1`. Lossless channels never skip.
 * @typedef {object} ConflationNotice
 * @property {string} channel
 * @property {number} from First skipped sequence number.
 * @property {number} to Last skipped sequence number.
 * @property {number} count How many were skipped.
 */

/**
 * Events the gateway can no longer send because retention removed them (a `gap` frame).
 * @typedef {object} GapNotice
 * @property {string} channel
 * @property {number} from
 * @property {number} to
 */

/**
 * An event of a critical channel whose signature did not verify, withheld by the gateway.
 * @typedef {object} RefusedNotice
 * @property {string} channel
 * @property {number} sequence_number
 * @property {string} event_id
 * @property {ErrorBody} error
 */

/**
 * An event that was received but not handed to any handler.
 * @typedef {object} DuplicateNotice
 * @property {Envelope} envelope
 * @property {"event_id" | "sequence"} reason `event_id`: that id was delivered already;
 *   `sequence`: the channel is already past this sequence number.
 */

/**
 * The client's events and what their listeners get.
 * @typedef {object} ClientEvents
 * @property {StateChange} state The connection state changed.
 * @property {ConflationNotice} conflated
 * @property {GapNotice} gap
 * @property {RefusedNotice} refused
 * @property {DuplicateNotice} duplicate
 * @property {ErrorBody} error An error frame no subscription or publish claimed, or a handler that threw (`handler_error`).
 */

/**
 * Reconnect timing: the delay doubles from `initialMs` up to `maxMs`; each is then multiplied by
 * a random factor between `1 - jitter` and 1, so that clients dropped together do not return together.
 * @typedef {object} Backoff
 * @property {number} [initialMs] Default 500.
 * @property {number} [maxMs] Default 10000.
 * @property {number} [jitter] From 0 to 1; default 0.5.
 */

/**
 * How to connect.
 * @typedef {object} ClientOptions
 * @property {string | URL} [url] The WebSocket endpoint, `wss://host/v1/ws`; an `http(s)` URL of
 *   the gateway works too. Default: `/v1/ws` on the origin this module was loaded from.
 * @property {string | (() => string | Promise<string>)} [token] A JWT or API key, sent as
 *   `?token=`; or a function asked before every attempt (a token that may be refreshed).
 * @property {Record<string, number>} [resume] Channel → last sequence number already processed,
 *   for instance kept in `localStorage` from an earlier page: subscriptions continue after them.
 * @property {(positions: Record<string, number>) => Record<string, number> | Promise<Record<string, number>>} [beforeResume]
 *   Called on every reconnect with the positions about to be resumed; returns the ones to use
 *   (channels left out start live).
 * @property {number} [dedupSize] How many recent event ids are remembered for dedup; default 10000.
 * @property {Backoff} [backoff]
 * @property {number} [idleTimeoutMs] Reconnect when nothing arrives for this long; the gateway
 *   sends a heartbeat every 15 s. Default 45000; 0 turns it off.
 * @property {typeof WebSocket} [WebSocket] The WebSocket class; default the global one.
 * @property {typeof fetch} [fetch] Used to ask why a handshake failed; default the global one.
 */

/**
 * What `subscribe` takes besides the patterns and the handler.
 * @typedef {object} SubscribeOptions
 * @property {(error: ErrorBody) => void} [onError] The gateway refused this subscription (`forbidden`, `invalid_channel`, `limit_exceeded`, …).
 * @property {() => void} [onSubscribed] The subscription is live (again after each reconnect).
 */

/**
 * What `publish` takes besides the channel and the payload.
 * @typedef {object} PublishOptions
 * @property {string} [eventId] A UUID (not version 8): the same id within the dedup window is stored once.
 * @property {Record<string, unknown>} [metadata]
 */

/** An error from the gateway, or from the client itself (`not_connected`, `connection_closed`). */
export class SwitchyardError extends Error {
  /** @param {ErrorBody} body */
  constructor(body) {
    super(body.message);
    this.name = "SwitchyardError";
    /** @type {string} */
    this.errorType = body.error_type;
    /** @type {Record<string, unknown>} */
    this.details = body.details ?? {};
    /** @type {ErrorBody} */
    this.body = body;
  }
}

/**
 * A Redis glob (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\` escapes) as a regular expression that
 * matches whole channel names, as the gateway matches subscription patterns.
 * @param {string} glob
 * @returns {RegExp}
 */
export function globToRegExp(glob) {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") source += ".*";
    else if (c === "?") source += ".";
    else if (c === "\\" && i + 1 < glob.length) source += escapeRegExp(glob[++i]);
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) { source += "\\["; continue; }
      let body = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
      const negated = body.startsWith("^");
      if (negated) body = body.slice(1);
      source += "[" + (negated ? "^" : "") + body + "]";
      i = end;
    } else source += escapeRegExp(c);
  }
  return new RegExp("^" + source + "$");
}

/** @param {string} text */
function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\\/-]/g, "\\$&");
}

/**
 * Per channel, the last sequence number processed, and the event ids delivered lately: decides
 * for each event whether it is delivered, so that a handler sees every event once, in sequence
 * order. Pure bookkeeping, no I/O.
 */
export class EventLedger {
  /** @param {{dedupSize?: number, positions?: Record<string, number>}} [options] */
  constructor(options = {}) {
    /** @type {number} */
    this.dedupSize = Math.max(1, Math.floor(options.dedupSize ?? 10000));
    /** @type {Map<string, number>} channel → last sequence number processed */
    this.sequences = new Map();
    /** @type {Set<string>} recent event ids, oldest first */
    this.eventIds = new Set();
    this.reset(options.positions ?? {});
  }

  /**
   * What to do with an event: `deliver` it (and, when the channel skipped numbers since the last
   * one, which were skipped), or drop it as a `duplicate` (with the reason).
   * @param {Envelope} envelope
   * @returns {{action: "deliver", skipped: {from: number, to: number} | null} | {action: "duplicate", reason: "event_id" | "sequence"}}
   */
  accept(envelope) {
    const { channel, sequence_number: sequence, event_id: id } = envelope;
    const last = this.sequences.get(channel);
    if (last !== undefined && sequence <= last) {
      return { action: "duplicate", reason: this.eventIds.has(id) ? "event_id" : "sequence" };
    }
    this.sequences.set(channel, sequence);
    if (this.eventIds.has(id)) return { action: "duplicate", reason: "event_id" };
    this.remember(id);
    const skipped = last !== undefined && sequence > last + 1 ? { from: last + 1, to: sequence - 1 } : null;
    return { action: "deliver", skipped };
  }

  /**
   * Moves a channel past numbers it will never get (a `gap`, a `refused` event).
   * @param {string} channel
   * @param {number} through The last of them.
   */
  advance(channel, through) {
    const last = this.sequences.get(channel);
    if (last === undefined || through > last) this.sequences.set(channel, through);
  }

  /** @param {string} id */
  remember(id) {
    if (this.eventIds.has(id)) return;
    this.eventIds.add(id);
    if (this.eventIds.size > this.dedupSize) {
      const oldest = this.eventIds.values().next().value;
      if (oldest !== undefined) this.eventIds.delete(oldest);
    }
  }

  /**
   * Channel → last sequence number processed.
   * @returns {Record<string, number>}
   */
  positions() {
    return Object.fromEntries(this.sequences);
  }

  /**
   * Replaces the positions (the event ids stay).
   * @param {Record<string, number>} positions
   */
  reset(positions) {
    this.sequences.clear();
    for (const [channel, sequence] of Object.entries(positions)) {
      if (typeof sequence === "number" && Number.isSafeInteger(sequence) && sequence >= 0) this.sequences.set(channel, sequence);
    }
  }

  /**
   * Forgets the channels `keep` says no to.
   * @param {(channel: string) => boolean} keep
   */
  retain(keep) {
    for (const channel of [...this.sequences.keys()]) if (!keep(channel)) this.sequences.delete(channel);
  }
}

/**
 * The delay before reconnect attempt `attempt` (1, 2, …).
 * @param {number} attempt
 * @param {Backoff} [backoff]
 * @param {() => number} [random]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, backoff = {}, random = Math.random) {
  const initial = backoff.initialMs ?? 500;
  const max = backoff.maxMs ?? 10000;
  const jitter = Math.min(1, Math.max(0, backoff.jitter ?? 0.5));
  const base = Math.min(max, initial * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.round(base * (1 - jitter * random()));
}

/** @type {Record<number, string>} */
const CLOSE_REASONS = {
  1000: "closed by the gateway",
  1001: "the gateway is going away",
  1006: "the connection was lost",
  1008: "too many sessions for this caller",
  1011: "the gateway's engine failed",
  4008: "slow consumer: this page fell behind",
};

/** A connection stable this long counts as a success: the next failure starts the backoff again. */
const STABLE_MS = 5000;

/**
 * A subscription as the client keeps it: sent again on every connection.
 * @typedef {object} Subscription
 * @property {string} id The frame id its `subscribed` and `error` replies carry.
 * @property {string[]} patterns
 * @property {RegExp[]} matchers
 * @property {(envelope: Envelope) => void} handler
 * @property {SubscribeOptions} options
 */

/**
 * A live connection to a Switchyard gateway. Subscriptions survive reconnects: after any
 * disconnect the client reconnects with backoff and resumes every channel after the last
 * sequence number it processed, and drops any event whose `event_id` it already delivered.
 */
export class SwitchyardClient {
  /** @type {ClientOptions} */
  #options;
  /** @type {string | (() => string | Promise<string>) | undefined} */
  #token;
  /** @type {EventLedger} */
  #ledger;
  /** @type {ConnectionState} */
  #state = "idle";
  /** @type {Map<string, Subscription>} */
  #subscriptions = new Map();
  /** @type {Map<string, {resolve: (receipt: Receipt) => void, reject: (error: SwitchyardError) => void}>} */
  #pending = new Map();
  /** @type {Map<keyof ClientEvents, Set<(detail: any) => void>>} */
  #listeners = new Map();
  /** @type {WebSocket | null} */
  #socket = null;
  /** Whether frames may be sent on the socket: open, and the resume prepared. */
  #ready = false;
  #attempt = 0;
  #connections = 0;
  #nextId = 0;
  /** Counts attempts, so that a superseded one gives up after its await. */
  #generation = 0;
  #openedAt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer = undefined;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #idleTimer = undefined;

  /**
   * Creates a client; it connects on `connect()` or the first `subscribe`.
   * @param {ClientOptions} [options]
   */
  constructor(options = {}) {
    this.#options = options;
    this.#token = options.token;
    this.#ledger = new EventLedger({ dedupSize: options.dedupSize, positions: options.resume });
    /** The WebSocket endpoint, without the token. */
    this.url = endpoint(options.url);
  }

  /** The connection's state. @returns {ConnectionState} */
  get state() { return this.#state; }

  /** How many times a connection has opened. @returns {number} */
  get connections() { return this.#connections; }

  /**
   * Listens to one of the client's events.
   * @template {keyof ClientEvents} K
   * @param {K} type
   * @param {(detail: ClientEvents[K]) => void} listener
   * @returns {() => void} Stops listening.
   */
  on(type, listener) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    const listeners = set;
    listeners.add(listener);
    return () => { listeners.delete(listener); };
  }

  /**
   * Starts connecting, unless connected or connecting already. The client then keeps
   * reconnecting until `close()`, except after a refused token (see `setToken`).
   * @returns {this}
   */
  connect() {
    if (this.#socket || this.#retryTimer !== undefined || this.#state === "connecting") return this;
    // On the next turn, so that listeners added right after `connect()` see `connecting`.
    this.#retryTimer = setTimeout(() => { void this.#dial(); }, 0);
    return this;
  }

  /** Closes the connection for good: no reconnect; pending publishes are rejected. */
  close() {
    this.#drop(1000, "closed by the app");
    this.#generation += 1;
    this.#setState("closed", {});
  }

  /**
   * Drops the connection, if any, and connects again at once; subscriptions resume.
   * @returns {this}
   */
  reconnect() {
    this.#drop(1000, "reconnecting");
    this.#attempt = 0;
    void this.#dial();
    return this;
  }

  /**
   * Uses another token from now on, and reconnects with it at once.
   * @param {string | (() => string | Promise<string>) | undefined} token
   * @returns {this}
   */
  setToken(token) {
    this.#token = token;
    return this.reconnect();
  }

  /**
   * Channel → last sequence number processed: what a reconnect resumes after. Keep it (in
   * `localStorage`, say) and pass it as `resume` to continue from there in a later page.
   * @returns {Record<string, number>}
   */
  positions() {
    return this.#ledger.positions();
  }

  /**
   * Subscribes to channels by name or Redis glob (`trades:*`, `price.updated.*`). The handler gets
   * each event of a matching channel once, in sequence order per channel, across reconnects.
   * @template [T=unknown]
   * @param {string | string[]} patterns
   * @param {(envelope: Envelope<T>) => void} handler
   * @param {SubscribeOptions} [options]
   * @returns {() => void} Unsubscribes.
   */
  subscribe(patterns, handler, options = {}) {
    const list = typeof patterns === "string" ? [patterns] : [...patterns];
    if (list.length === 0 || !list.every((p) => typeof p === "string" && p.length > 0)) {
      throw new TypeError("subscribe needs one or more channel patterns");
    }
    if (typeof handler !== "function") throw new TypeError("subscribe needs a handler function");
    /** @type {Subscription} */
    const subscription = {
      id: "s" + ++this.#nextId, patterns: list, matchers: list.map(globToRegExp),
      handler: /** @type {(envelope: Envelope) => void} */ (handler), options,
    };
    this.#subscriptions.set(subscription.id, subscription);
    if (this.#ready) this.#sendSubscribe(subscription);
    if (this.#state === "idle") this.connect();
    return () => this.#unsubscribe(subscription);
  }

  /**
   * Publishes one event through the connection (it needs a publish grant on the channel).
   * @param {string} channel
   * @param {unknown} data The payload, checked against the channel's contract.
   * @param {PublishOptions} [options]
   * @returns {Promise<Receipt>} Rejects with a `SwitchyardError`: the gateway's refusal,
   *   `not_connected`, or `connection_closed` (the outcome is unknown: publish again with the same `eventId`).
   */
  publish(channel, data, options = {}) {
    if (!this.#ready) {
      return Promise.reject(new SwitchyardError({ error_type: "not_connected", message: "the client is not connected", details: {} }));
    }
    const id = "p" + ++this.#nextId;
    /** @type {Record<string, unknown>} */
    const frame = { type: "publish", id, channel, data };
    if (options.eventId) frame.event_id = options.eventId;
    if (options.metadata) frame.metadata = options.metadata;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send(frame);
    });
  }

  /** @param {Subscription} subscription */
  #unsubscribe(subscription) {
    if (!this.#subscriptions.delete(subscription.id)) return;
    const still = new Set([...this.#subscriptions.values()].flatMap((s) => s.patterns));
    const dropped = subscription.patterns.filter((p) => !still.has(p));
    if (dropped.length) this.#send({ type: "unsubscribe", patterns: dropped });
    // As the gateway does: a channel no remaining pattern matches is forgotten, and starts live
    // when subscribed again.
    this.#ledger.retain((channel) => this.#wanted(channel) || !subscription.matchers.some((m) => m.test(channel)));
  }

  // --- the connection ---

  async #dial() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const generation = ++this.#generation;
    this.#setState("connecting", {});
    let token;
    try {
      token = typeof this.#token === "function" ? await this.#token() : this.#token;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#emit("error", { error_type: "token_unavailable", message: "the token function failed: " + String(error), details: {} });
      this.#retry(undefined, "no token");
      return;
    }
    if (generation !== this.#generation) return;
    const url = new URL(this.url);
    if (token) url.searchParams.set("token", token);
    const Socket = this.#options.WebSocket ?? globalThis.WebSocket;
    /** @type {WebSocket} */
    let socket;
    try {
      socket = new Socket(url.href);
    } catch (error) {
      this.#emit("error", { error_type: "bad_url", message: String(error), details: {} });
      this.#retry(undefined, "the WebSocket could not be created");
      return;
    }
    this.#socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (this.#socket !== socket) return;
      opened = true;
      this.#openedAt = Date.now();
      this.#connections += 1;
      this.#touch();
      void this.#resume(socket);
    };
    socket.onmessage = (message) => {
      if (this.#socket !== socket) return;
      this.#touch();
      let frame;
      try { frame = JSON.parse(String(message.data)); } catch (_) { return; }
      if (frame && typeof frame === "object") this.#handle(frame);
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#detach();
      if (opened) this.#retry(event.code, event.reason || CLOSE_REASONS[event.code] || "closed with " + event.code, true);
      else void this.#handshakeFailed(url, event.code, generation);
    };
    socket.onerror = () => {};
  }

  /**
   * Once the socket is open: lets the app adjust the positions (on a reconnect), then subscribes
   * everything again, resuming each channel after its last sequence number.
   * @param {WebSocket} socket
   */
  async #resume(socket) {
    const positions = this.#ledger.positions();
    if (this.#options.beforeResume && this.#connections > 1 && Object.keys(positions).length) {
      try {
        this.#ledger.reset(await this.#options.beforeResume(positions));
      } catch (error) {
        report(error);
      }
      if (this.#socket !== socket) return;
    }
    this.#ready = true;
    for (const subscription of this.#subscriptions.values()) this.#sendSubscribe(subscription);
    this.#setState("open", {});
  }

  /** @param {Subscription} subscription */
  #sendSubscribe(subscription) {
    /** @type {Record<string, number>} */
    const resume = {};
    for (const [channel, sequence] of Object.entries(this.#ledger.positions())) {
      if (subscription.matchers.some((m) => m.test(channel))) resume[channel] = sequence;
    }
    /** @type {Record<string, unknown>} */
    const frame = { type: "subscribe", id: subscription.id, patterns: subscription.patterns };
    if (Object.keys(resume).length) frame.resume = resume;
    this.#send(frame);
  }

  /**
   * The handshake failed before the socket opened: asks the gateway why, then waits for a new
   * token (a refused static token) or retries.
   * @param {URL} url
   * @param {number} code
   * @param {number} generation
   */
  async #handshakeFailed(url, code, generation) {
    const answer = await probe(url, this.#options.fetch ?? globalThis.fetch);
    if (generation !== this.#generation) return;
    if (answer.refusal) {
      this.#setState("unauthorized", { error: answer.refusal, code, reason: answer.refusal.message });
      if (typeof this.#token === "function") this.#retry(code, answer.refusal.message, false, false);
      return;
    }
    this.#retry(code, answer.reachable ? "the WebSocket handshake failed" : "the gateway could not be reached");
  }

  /**
   * Schedules the next attempt with backoff.
   * @param {number | undefined} code
   * @param {string} reason
   * @param {boolean} [wasOpen]
   * @param {boolean} [announce] Whether to enter `reconnecting`.
   */
  #retry(code, reason, wasOpen = false, announce = true) {
    if (this.#state === "closed") return;
    this.#attempt = wasOpen && Date.now() - this.#openedAt >= STABLE_MS ? 1 : this.#attempt + 1;
    const delay = backoffDelay(this.#attempt, this.#options.backoff);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => { void this.#dial(); }, delay);
    if (announce) this.#setState("reconnecting", { delay, code, reason });
  }

  /** Forgets the socket, and rejects the publishes waiting on it. */
  #detach() {
    clearTimeout(this.#idleTimer);
    this.#socket = null;
    this.#ready = false;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { reject } of pending) {
      reject(new SwitchyardError({
        error_type: "connection_closed", details: {},
        message: "the connection closed before the gateway answered; the event may or may not be stored: publish again with the same eventId",
      }));
    }
  }

  /**
   * Closes the socket, if any, without waiting for its closing handshake; cancels a pending retry.
   * @param {number} code
   * @param {string} reason
   */
  #drop(code, reason) {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const socket = this.#socket;
    if (!socket) return;
    this.#detach();
    try { socket.close(code, reason); } catch (_) { /* closed already */ }
  }

  /** Restarts the idle timer: a connection silent past it is dead, whatever TCP says. */
  #touch() {
    const timeout = this.#options.idleTimeoutMs ?? 45000;
    clearTimeout(this.#idleTimer);
    if (timeout <= 0) return;
    this.#idleTimer = setTimeout(() => {
      this.#drop(4000, "no frame from the gateway");
      this.#retry(undefined, `nothing from the gateway for ${Math.round(timeout / 1000)} s`, true);
    }, timeout);
  }

  /**
   * @param {ConnectionState} state
   * @param {Partial<StateChange>} detail
   */
  #setState(state, detail) {
    const previous = this.#state;
    this.#state = state;
    if (state === previous && state !== "reconnecting") return;
    this.#emit("state", { ...detail, state, previous, attempt: this.#attempt, connections: this.#connections });
  }

  /**
   * @template {keyof ClientEvents} K
   * @param {K} type
   * @param {ClientEvents[K]} detail
   */
  #emit(type, detail) {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try { listener(detail); } catch (error) { report(error); }
    }
  }

  /** @param {Record<string, unknown>} frame */
  #send(frame) {
    if (this.#ready && this.#socket && this.#socket.readyState === 1) this.#socket.send(JSON.stringify(frame));
  }

  /** @param {string} channel */
  #wanted(channel) {
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.matchers.some((m) => m.test(channel))) return true;
    }
    return false;
  }

  /**
   * Runs app code: a throw becomes an `error` event and never stops delivery.
   * @param {() => void} body
   */
  #guard(body) {
    try {
      body();
    } catch (error) {
      this.#emit("error", { error_type: "handler_error", message: String(error instanceof Error ? error.message : error), details: {} });
      report(error);
    }
  }

  // --- frames from the gateway ---

  /** @param {any} frame */
  #handle(frame) {
    switch (frame.type) {
      case "event":
        return this.#deliver(frame.envelope);
      case "gap":
        this.#ledger.advance(frame.channel, frame.to);
        return this.#emit("gap", { channel: frame.channel, from: frame.from, to: frame.to });
      case "refused":
        this.#ledger.advance(frame.channel, frame.sequence_number);
        if (typeof frame.event_id === "string") this.#ledger.remember(frame.event_id);
        return this.#emit("refused", {
          channel: frame.channel, sequence_number: frame.sequence_number, event_id: frame.event_id, error: errorBody(frame.error),
        });
      case "subscribed": {
        const subscription = this.#subscriptions.get(frame.id);
        const onSubscribed = subscription?.options.onSubscribed;
        if (onSubscribed) this.#guard(() => onSubscribed());
        return;
      }
      case "published": {
        const waiting = this.#pending.get(frame.id);
        if (!waiting) return;
        this.#pending.delete(frame.id);
        const { type: _type, id: _id, ...receipt } = frame;
        return waiting.resolve(receipt);
      }
      case "error": {
        const body = errorBody(frame.error);
        const waiting = this.#pending.get(frame.id);
        if (waiting) {
          this.#pending.delete(frame.id);
          return waiting.reject(new SwitchyardError(body));
        }
        const onError = this.#subscriptions.get(frame.id)?.options.onError;
        if (onError) return this.#guard(() => onError(body));
        return this.#emit("error", body);
      }
      default:
        return;  // heartbeat, unsubscribed, and frame types added later
    }
  }

  /** @param {any} envelope */
  #deliver(envelope) {
    if (!envelope || typeof envelope.channel !== "string" || !Number.isSafeInteger(envelope.sequence_number) || typeof envelope.event_id !== "string") {
      return this.#emit("error", { error_type: "bad_frame", message: "an event frame without channel, sequence_number and event_id", details: {} });
    }
    const subscriptions = [...this.#subscriptions.values()].filter((s) => s.matchers.some((m) => m.test(envelope.channel)));
    if (subscriptions.length === 0) return;  // a channel just unsubscribed
    const verdict = this.#ledger.accept(envelope);
    if (verdict.action === "duplicate") return this.#emit("duplicate", { envelope, reason: verdict.reason });
    if (verdict.skipped) {
      const { from, to } = verdict.skipped;
      this.#emit("conflated", { channel: envelope.channel, from, to, count: to - from + 1 });
    }
    for (const subscription of subscriptions) this.#guard(() => subscription.handler(envelope));
  }
}

/**
 * Creates a client and starts connecting.
 * @param {ClientOptions} [options]
 * @returns {SwitchyardClient}
 */
export function connect(options = {}) {
  return new SwitchyardClient(options).connect();
}

/**
 * The WebSocket endpoint from an option, or `/v1/ws` where this module came from.
 * @param {string | URL | undefined} given
 * @returns {URL}
 */
function endpoint(given) {
  const base = typeof location !== "undefined" ? location.href : import.meta.url;
  const url = new URL(given ?? new URL("/v1/ws", import.meta.url.startsWith("http") ? import.meta.url : base), base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`not a WebSocket URL: ${url.href}`);
  return url;
}

/**
 * Asks the gateway, with a plain GET of the same URL, whether it refuses these credentials. A
 * browser hides the answer from a page of another origin: that reads as not reachable.
 * @param {URL} url
 * @param {typeof fetch | undefined} fetcher
 * @returns {Promise<{refusal: ErrorBody | null, reachable: boolean}>} The refusal (401, 403) if any.
 */
async function probe(url, fetcher) {
  if (typeof fetcher !== "function") return { refusal: null, reachable: false };
  const http = new URL(url);
  http.protocol = url.protocol === "wss:" ? "https:" : "http:";
  try {
    const response = await fetcher(http.href, { cache: "no-store", credentials: "omit" });
    if (response.status !== 401 && response.status !== 403) return { refusal: null, reachable: true };
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    return { refusal: errorBody(body, response.status === 401 ? "unauthorized" : "forbidden"), reachable: true };
  } catch (_) {
    return { refusal: null, reachable: false };
  }
}

/**
 * @param {any} value
 * @param {string} [fallback]
 * @returns {ErrorBody}
 */
function errorBody(value, fallback = "error") {
  if (value && typeof value === "object" && typeof value.error_type === "string") {
    return { error_type: value.error_type, message: String(value.message ?? ""), details: value.details ?? {} };
  }
  return { error_type: fallback, message: fallback, details: {} };
}

/**
 * Reports an app error without stopping the client: `reportError` in a browser.
 * @param {unknown} error
 */
function report(error) {
  if (typeof reportError === "function") reportError(error);
  else console.error(error);
}
