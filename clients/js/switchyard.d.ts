/**
 * A Redis glob (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\` escapes) as a regular expression that
 * matches whole channel names, as the gateway matches subscription patterns.
 * @param {string} glob
 * @returns {RegExp}
 */
export function globToRegExp(glob: string): RegExp;
/**
 * The delay before reconnect attempt `attempt` (1, 2, …).
 * @param {number} attempt
 * @param {Backoff} [backoff]
 * @param {() => number} [random]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt: number, backoff?: Backoff | undefined, random?: (() => number) | undefined): number;
/**
 * Creates a client and starts connecting.
 * @param {ClientOptions} [options]
 * @returns {SwitchyardClient}
 */
export function connect(options?: ClientOptions | undefined): SwitchyardClient;
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
    constructor(body: ErrorBody);
    /** @type {string} */
    errorType: string;
    /** @type {Record<string, unknown>} */
    details: Record<string, unknown>;
    /** @type {ErrorBody} */
    body: ErrorBody;
}
/**
 * Per channel, the last sequence number processed, and the event ids delivered lately: decides
 * for each event whether it is delivered, so that a handler sees every event once, in sequence
 * order. Pure bookkeeping, no I/O.
 */
export class EventLedger {
    /** @param {{dedupSize?: number, positions?: Record<string, number>}} [options] */
    constructor(options?: {
        dedupSize?: number | undefined;
        positions?: Record<string, number> | undefined;
    } | undefined);
    /** @type {number} */
    dedupSize: number;
    /** @type {Map<string, number>} channel → last sequence number processed */
    sequences: Map<string, number>;
    /** @type {Set<string>} recent event ids, oldest first */
    eventIds: Set<string>;
    /**
     * What to do with an event: `deliver` it (and, when the channel skipped numbers since the last
     * one, which were skipped), or drop it as a `duplicate` (with the reason).
     * @param {Envelope} envelope
     * @returns {{action: "deliver", skipped: {from: number, to: number} | null} | {action: "duplicate", reason: "event_id" | "sequence"}}
     */
    accept(envelope: Envelope): {
        action: "deliver";
        skipped: {
            from: number;
            to: number;
        } | null;
    } | {
        action: "duplicate";
        reason: "event_id" | "sequence";
    };
    /**
     * Moves a channel past numbers it will never get (a `gap`, a `refused` event).
     * @param {string} channel
     * @param {number} through The last of them.
     */
    advance(channel: string, through: number): void;
    /** @param {string} id */
    remember(id: string): void;
    /**
     * Channel → last sequence number processed.
     * @returns {Record<string, number>}
     */
    positions(): Record<string, number>;
    /**
     * Replaces the positions (the event ids stay).
     * @param {Record<string, number>} positions
     */
    reset(positions: Record<string, number>): void;
    /**
     * Forgets the channels `keep` says no to.
     * @param {(channel: string) => boolean} keep
     */
    retain(keep: (channel: string) => boolean): void;
}
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
    /**
     * Creates a client; it connects on `connect()` or the first `subscribe`.
     * @param {ClientOptions} [options]
     */
    constructor(options?: ClientOptions | undefined);
    /** The WebSocket endpoint, without the token. */
    url: URL;
    /** The connection's state. @returns {ConnectionState} */
    get state(): ConnectionState;
    /** How many times a connection has opened. @returns {number} */
    get connections(): number;
    /**
     * Listens to one of the client's events.
     * @template {keyof ClientEvents} K
     * @param {K} type
     * @param {(detail: ClientEvents[K]) => void} listener
     * @returns {() => void} Stops listening.
     */
    on<K extends keyof ClientEvents>(type: K, listener: (detail: ClientEvents[K]) => void): () => void;
    /**
     * Starts connecting, unless connected or connecting already. The client then keeps
     * reconnecting until `close()`, except after a refused token (see `setToken`).
     * @returns {this}
     */
    connect(): this;
    /** Closes the connection for good: no reconnect; pending publishes are rejected. */
    close(): void;
    /**
     * Drops the connection, if any, and connects again at once; subscriptions resume.
     * @returns {this}
     */
    reconnect(): this;
    /**
     * Uses another token from now on, and reconnects with it at once.
     * @param {string | (() => string | Promise<string>) | undefined} token
     * @returns {this}
     */
    setToken(token: string | (() => string | Promise<string>) | undefined): this;
    /**
     * Channel → last sequence number processed: what a reconnect resumes after. Keep it (in
     * `localStorage`, say) and pass it as `resume` to continue from there in a later page.
     * @returns {Record<string, number>}
     */
    positions(): Record<string, number>;
    /**
     * Subscribes to channels by name or Redis glob (`trades:*`, `price.updated.*`). The handler gets
     * each event of a matching channel once, in sequence order per channel, across reconnects.
     * @template [T=unknown]
     * @param {string | string[]} patterns
     * @param {(envelope: Envelope<T>) => void} handler
     * @param {SubscribeOptions} [options]
     * @returns {() => void} Unsubscribes.
     */
    subscribe<T = unknown>(patterns: string | string[], handler: (envelope: Envelope<T>) => void, options?: SubscribeOptions | undefined): () => void;
    /**
     * Publishes one event through the connection (it needs a publish grant on the channel).
     * @param {string} channel
     * @param {unknown} data The payload, checked against the channel's contract.
     * @param {PublishOptions} [options]
     * @returns {Promise<Receipt>} Rejects with a `SwitchyardError`: the gateway's refusal,
     *   `not_connected`, or `connection_closed` (the outcome is unknown: publish again with the same `eventId`).
     */
    publish(channel: string, data: unknown, options?: PublishOptions | undefined): Promise<Receipt>;
    #private;
}
/**
 * An event as the gateway sends it: the envelope exactly as stored.
 */
export type Envelope<T = unknown> = {
    /**
     * UUIDv7, unique per event.
     */
    event_id: string;
    /**
     * The channel it was published on.
     */
    channel: string;
    /**
     * Per channel, strictly increasing without gaps.
     */
    sequence_number: number;
    /**
     * RFC 3339, milliseconds, UTC.
     */
    timestamp: string;
    /**
     * The publishing service.
     */
    source: string;
    /**
     * Contract id and version, `channel@1`.
     */
    schema?: string | undefined;
    /**
     * The payload.
     */
    data: T;
    /**
     * Trace context, session, user.
     */
    metadata?: Record<string, unknown> | undefined;
};
/**
 * The structured error of the gateway: `{"error_type","message","details"}`.
 */
export type ErrorBody = {
    /**
     * `unauthorized`, `forbidden`, `validation_error`, `limit_exceeded`, …
     */
    error_type: string;
    message: string;
    details?: Record<string, unknown> | undefined;
};
/**
 * A publish's receipt.
 */
export type Receipt = {
    event_id: string;
    channel: string;
    sequence_number?: number | undefined;
    stream_id: string;
    timestamp: string;
    /**
     * Whether the event id was stored before (the receipt is then the first publish's).
     */
    duplicate: boolean;
};
/**
 * The connection's state, for a status indicator:
 * `idle` (not started), `connecting` (a handshake in flight), `open` (subscriptions live),
 * `reconnecting` (waiting out the backoff before the next attempt), `unauthorized` (the gateway
 * refused the token: 401, or 403 for this page's origin), `closed` (closed by the app).
 */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "unauthorized" | "closed";
/**
 * What a `state` listener is told.
 */
export type StateChange = {
    state: ConnectionState;
    previous: ConnectionState;
    /**
     * Attempts in a row that failed or did not stay open for 5 s.
     */
    attempt: number;
    /**
     * How many times a connection has opened so far (1 on the first open).
     */
    connections: number;
    /**
     * With `reconnecting`: milliseconds until the next attempt.
     */
    delay?: number | undefined;
    /**
     * The WebSocket close code that ended the last connection.
     */
    code?: number | undefined;
    /**
     * Why the last connection ended, in words.
     */
    reason?: string | undefined;
    /**
     * With `unauthorized`: the gateway's refusal.
     */
    error?: ErrorBody | undefined;
};
/**
 * Events of a conflatable channel the gateway skipped for this connection because it fell behind
 * (its queue was full): the next event delivered is `to + 1`. Lossless channels never skip.
 */
export type ConflationNotice = {
    channel: string;
    /**
     * First skipped sequence number.
     */
    from: number;
    /**
     * Last skipped sequence number.
     */
    to: number;
    /**
     * How many were skipped.
     */
    count: number;
};
/**
 * Events the gateway can no longer send because retention removed them (a `gap` frame).
 */
export type GapNotice = {
    channel: string;
    from: number;
    to: number;
};
/**
 * An event of a critical channel whose signature did not verify, withheld by the gateway.
 */
export type RefusedNotice = {
    channel: string;
    sequence_number: number;
    event_id: string;
    error: ErrorBody;
};
/**
 * An event that was received but not handed to any handler.
 */
export type DuplicateNotice = {
    envelope: Envelope;
    /**
     * `event_id`: that id was delivered already;
     * `sequence`: the channel is already past this sequence number.
     */
    reason: "event_id" | "sequence";
};
/**
 * The client's events and what their listeners get.
 */
export type ClientEvents = {
    /**
     * The connection state changed.
     */
    state: StateChange;
    conflated: ConflationNotice;
    gap: GapNotice;
    refused: RefusedNotice;
    duplicate: DuplicateNotice;
    /**
     * An error frame no subscription or publish claimed, or a handler that threw (`handler_error`).
     */
    error: ErrorBody;
};
/**
 * Reconnect timing: the delay doubles from `initialMs` up to `maxMs`; each is then multiplied by
 * a random factor between `1 - jitter` and 1, so that clients dropped together do not return together.
 */
export type Backoff = {
    /**
     * Default 500.
     */
    initialMs?: number | undefined;
    /**
     * Default 10000.
     */
    maxMs?: number | undefined;
    /**
     * From 0 to 1; default 0.5.
     */
    jitter?: number | undefined;
};
/**
 * How to connect.
 */
export type ClientOptions = {
    /**
     * The WebSocket endpoint, `wss://host/v1/ws`; an `http(s)` URL of
     * the gateway works too. Default: `/v1/ws` on the origin this module was loaded from.
     */
    url?: string | URL | undefined;
    /**
     * A JWT or API key, sent as
     * `?token=`; or a function asked before every attempt (a token that may be refreshed).
     */
    token?: string | (() => string | Promise<string>) | undefined;
    /**
     * Channel → last sequence number already processed,
     * for instance kept in `localStorage` from an earlier page: subscriptions continue after them.
     */
    resume?: Record<string, number> | undefined;
    /**
     * Called on every reconnect with the positions about to be resumed; returns the ones to use
     * (channels left out start live).
     */
    beforeResume?: ((positions: Record<string, number>) => Record<string, number> | Promise<Record<string, number>>) | undefined;
    /**
     * How many recent event ids are remembered for dedup; default 10000.
     */
    dedupSize?: number | undefined;
    backoff?: Backoff | undefined;
    /**
     * Reconnect when nothing arrives for this long; the gateway
     * sends a heartbeat every 15 s. Default 45000; 0 turns it off.
     */
    idleTimeoutMs?: number | undefined;
    /**
     * The WebSocket class; default the global one.
     */
    WebSocket?: {
        new (url: string | URL, protocols?: string | string[] | undefined): WebSocket;
        prototype: WebSocket;
        readonly CLOSED: number;
        readonly CLOSING: number;
        readonly CONNECTING: number;
        readonly OPEN: number;
    } | undefined;
    /**
     * Used to ask why a handshake failed; default the global one.
     */
    fetch?: typeof fetch | undefined;
};
/**
 * What `subscribe` takes besides the patterns and the handler.
 */
export type SubscribeOptions = {
    /**
     * The gateway refused this subscription (`forbidden`, `invalid_channel`, `limit_exceeded`, …).
     */
    onError?: ((error: ErrorBody) => void) | undefined;
    /**
     * The subscription is live (again after each reconnect).
     */
    onSubscribed?: (() => void) | undefined;
};
/**
 * What `publish` takes besides the channel and the payload.
 */
export type PublishOptions = {
    /**
     * A UUID (not version 8): the same id within the dedup window is stored once.
     */
    eventId?: string | undefined;
    metadata?: Record<string, unknown> | undefined;
};
/**
 * A subscription as the client keeps it: sent again on every connection.
 */
export type Subscription = {
    /**
     * The frame id its `subscribed` and `error` replies carry.
     */
    id: string;
    patterns: string[];
    matchers: RegExp[];
    handler: (envelope: Envelope) => void;
    options: SubscribeOptions;
};
