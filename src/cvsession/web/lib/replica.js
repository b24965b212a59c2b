// One session's sync state machine, transport-free (docs/protocol.md "The client's algorithm";
// mirrors src/cvsession/client/replica.py). It holds the confirmed document at its cookie and the
// ordered outbox, derives the displayed state (confirmed + outbox re-applied through the
// predictors: the rebase), and turns server messages into events. It never touches storage: the
// events carry what the leader tab must persist, so followers can run the same machine read-only.

import { applyPatch } from './jsonpatch.js';
import { parseHlc } from './hlc.js';
import { predict } from './predict.js';
import { strictStringify } from './json.js';

export const SCHEMA_VERSION = 1;
export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_PUSH_MUTATIONS = 500;
// How long an acknowledged entry stays displayed waiting for the patch carrying its effect (an
// ack may overtake that patch when the session changed through another server process).
export const SETTLE_MS = 2000;
const PUSH_HEAD = '{"type":"push","mutations":[';
const PUSH_TAIL = ']}';
const encoder = new TextEncoder();
const bytes = (s) => encoder.encode(s).length;

const wire = (e) => ({ id: e.id, name: e.name, args: e.args, baseVersion: e.baseVersion, hlc: e.hlc });

function nowOf(hlc) {
  try {
    return new Date(parseHlc(hlc).ms);
  } catch {
    return new Date();
  }
}

const isInt = (v) => Number.isInteger(v);

export class Replica {
  constructor({ sessionId, clientId, maxFrameBytes = MAX_FRAME_BYTES, maxPushMutations = MAX_PUSH_MUTATIONS,
    settleMs = SETTLE_MS, clock = () => Date.now() } = {}) {
    Object.assign(this, { sessionId, clientId, maxFrameBytes, maxPushMutations, settleMs, clock });
    this.cookie = null;
    this.confirmed = null;
    this.outbox = [];
    this.settling = []; // [{entry, deadline}]
    this.acked = 0; // highest id the server acknowledged (entries at or below are gone)
    this.sentUpto = 0; // highest id pushed on the current connection
    this.handshakeDone = false;
    this.presence = [];
    this.localErrors = new Map(); // id -> why the optimistic application failed
    this.refused = new Set(); // ids the server refused, until an ack covers them
    this.state = null;
  }

  /** Start from stored state (the IndexedDB cache or a leader's snapshot). */
  load({ cookie = null, confirmed = null, outbox = [], acked = 0 }) {
    this.cookie = cookie;
    this.confirmed = confirmed;
    this.acked = Math.max(this.acked, acked);
    this.outbox = [];
    this.settling = [];
    this.mergeOutbox(outbox);
  }

  /** Merge entries read from the shared outbox (any tab may have added some); rebuild. */
  mergeOutbox(entries) {
    const byId = new Map(this.outbox.map((e) => [e.id, e]));
    for (const e of entries) if (e.id > this.acked && !this.refused.has(e.id) && !byId.has(e.id)) byId.set(e.id, e);
    this.outbox = [...byId.values()].sort((a, b) => a.id - b.id);
    this.rebuild();
  }

  /** A push frame is limited to 64 KiB: refuse a mutation that could never be sent. */
  checkSize(name, args) {
    const probe = strictStringify({ id: 2 ** 53, name, args, baseVersion: this.cookie, hlc: '' });
    if (bytes(probe) + PUSH_HEAD.length + PUSH_TAIL.length + 128 > this.maxFrameBytes) {
      throw new RangeError(`mutation ${name} is above one push frame (64 KiB)`);
    }
  }

  // connection lifecycle ----------------------------------------------------------------------
  hello(clientGroupID, device, now) {
    this.sentUpto = 0;
    this.handshakeDone = false;
    const msg = { type: 'hello', clientID: this.clientId, clientGroupID, cookie: this.cookie,
      lastMutationID: this.acked, schemaVersion: SCHEMA_VERSION };
    if (device) msg.device = String(device).slice(0, 64);
    // The wall clock the HLC stamps come from: the server corrects offline ages by its skew.
    if (Number.isSafeInteger(now) && now >= 0) msg.now = now;
    return msg;
  }

  /** The outbox entries not yet pushed on this connection, as frames of ≤ 64 KiB and ≤ 500. */
  pushFrames() {
    const frames = [];
    let batch = [];
    let size = PUSH_HEAD.length + PUSH_TAIL.length;
    for (const entry of this.outbox) {
      if (entry.id <= this.sentUpto) continue;
      const encoded = strictStringify(wire(entry));
      const extra = bytes(encoded) + (batch.length ? 1 : 0);
      if (batch.length && (size + extra > this.maxFrameBytes || batch.length >= this.maxPushMutations)) {
        frames.push(PUSH_HEAD + batch.join(',') + PUSH_TAIL);
        batch = [];
        size = PUSH_HEAD.length + PUSH_TAIL.length;
      }
      size += bytes(encoded) + (batch.length ? 1 : 0);
      batch.push(encoded);
      this.sentUpto = entry.id;
    }
    if (batch.length) frames.push(PUSH_HEAD + batch.join(',') + PUSH_TAIL);
    return frames;
  }

  disconnected() {
    this.sentUpto = 0;
    this.handshakeDone = false;
  }

  /** Forget settling entries past their deadline; return whether the state changed. */
  settle(now = this.clock()) {
    const kept = this.settling.filter((s) => s.deadline > now);
    if (kept.length === this.settling.length) return false;
    this.settling = kept;
    this.rebuild();
    return true;
  }

  // server messages -----------------------------------------------------------------------------
  /** Apply one server message; return events: what to report, persist or do. */
  receive(msg) {
    const fn = Object.hasOwn(RECEIVERS, msg?.type) ? RECEIVERS[msg.type] : null;
    if (!fn) return []; // a newer server's message type
    try {
      return fn.call(this, msg);
    } catch (err) {
      return [{ type: 'error', code: 'bad_server_message', message: `${msg.type}: ${err.message}`, retryable: true },
        { type: 'resync', reason: `malformed ${msg.type}` }];
    }
  }

  onWelcome(msg) {
    return [{ type: 'welcome', serverTime: Date.parse(msg.serverTime) }];
  }

  onPatch(msg) {
    if (!isInt(msg.cookie) || !Array.isArray(msg.ops)) throw new TypeError('cookie and ops are required');
    const reset = msg.reset === true;
    let doc;
    if (reset) {
      const [op] = msg.ops;
      if (msg.ops.length !== 1 || op?.op !== 'replace' || op.path !== '') throw new TypeError('a reset is one replace of ""');
      doc = structuredClone(op.value);
    } else if (this.cookie === null || msg.baseCookie !== this.cookie) {
      return [{ type: 'resync', reason: `patch from ${msg.baseCookie} but our cookie is ${this.cookie}` }];
    } else {
      try {
        doc = applyPatch(this.confirmed, msg.ops);
      } catch (err) {
        // Our copy disagrees with the server's: forget it and ask for the whole document.
        this.cookie = null;
        this.confirmed = null;
        this.rebuild();
        return [{ type: 'persist', forgetDoc: true }, { type: 'resync', reason: `patch does not apply: ${err.message}` }];
      }
    }
    if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'version' in doc) doc.version = msg.cookie;
    const changes = msg.lastMutationIDChanges ?? {};
    const upto = isInt(changes[this.clientId]) ? changes[this.clientId] : 0;
    this.cookie = msg.cookie;
    this.confirmed = doc;
    const dropped = this.drop(upto);
    this.settling = this.settling.filter((s) => s.entry.id > upto);
    this.rebuild();
    return [{ type: 'persist', cookie: msg.cookie, doc, upto: Math.max(upto, 0) }, { type: 'patched', reset, dropped }];
  }

  onAck(msg) {
    const last = msg.lastMutationID;
    if (!isInt(last)) throw new TypeError('lastMutationID must be an integer');
    const dropped = this.drop(last);
    this.sentUpto = Math.max(this.sentUpto, last);
    if (!this.handshakeDone) {
      this.handshakeDone = true; // the hello's ack follows its catch-up patch: nothing to settle
      this.settling = [];
    } else {
      const deadline = this.clock() + this.settleMs;
      this.settling.push(...dropped.map((entry) => ({ entry, deadline })));
    }
    this.rebuild();
    return [{ type: 'persist', upto: last }, { type: 'acked', last, dropped }];
  }

  onConflict(msg) {
    return [{ type: 'conflict', id: msg.id ?? null, mutationID: msg.mutationID ?? null, clientID: msg.clientID ?? null,
      path: String(msg.path), yours: msg.yours, theirs: msg.theirs, version: msg.version ?? null }];
  }

  onError(msg) {
    const code = String(msg.code ?? 'unknown');
    const retryable = msg.retryable === true;
    const mutationID = isInt(msg.mutationID) ? msg.mutationID : null;
    const events = [{ type: 'error', code, message: String(msg.message ?? ''), retryable, mutationID }];
    if (code === 'mutation_gap') {
      const expected = isInt(msg.expected) ? msg.expected : null;
      this.sentUpto = expected === null ? 0 : Math.min(this.sentUpto, expected - 1);
      events.push({ type: 'resend', backoff: false });
    } else if (mutationID !== null && !retryable) {
      // Refused: its id is consumed, so drop it now; the rebuild rolls its effect back.
      const entry = this.outbox.find((e) => e.id === mutationID);
      this.refused.add(mutationID);
      if (entry) {
        this.outbox = this.outbox.filter((e) => e !== entry);
        this.localErrors.delete(entry.id);
        this.rebuild();
        events.push({ type: 'refused', entry });
      }
    } else if (code === 'hello_required') {
      events.push({ type: 'resync', reason: 'the server did not see our hello' });
    } else if (retryable && mutationID === null) {
      this.sentUpto = 0; // rate_limited, internal: the frame was dropped; send it all again later
      events.push({ type: 'resend', backoff: true });
    }
    return events;
  }

  onPresence(msg) {
    if (!Array.isArray(msg.clients)) throw new TypeError('clients must be a list');
    this.presence = msg.clients;
    return [{ type: 'presence', clients: msg.clients }];
  }

  // displayed state ---------------------------------------------------------------------------------
  drop(upto) {
    if (upto > this.acked) this.acked = upto;
    for (const id of this.refused) if (id <= this.acked) this.refused.delete(id);
    const dropped = this.outbox.filter((e) => e.id <= upto);
    if (dropped.length) {
      this.outbox = this.outbox.filter((e) => e.id > upto);
      for (const e of dropped) this.localErrors.delete(e.id);
    }
    return dropped;
  }

  /** Displayed state = confirmed + settling + outbox re-applied in order (the rebase). */
  rebuild() {
    if (this.confirmed === null || this.cookie === null) {
      this.state = null;
      return;
    }
    let state = this.confirmed;
    for (const { entry } of this.settling) state = this.apply(state, entry);
    for (const entry of this.outbox) state = this.apply(state, entry);
    this.state = state;
  }

  /** Append a local entry (already durable) and apply it on top of the displayed state. */
  add(entry) {
    if (entry.id <= this.acked || this.refused.has(entry.id) || this.outbox.some((e) => e.id === entry.id)) return;
    if (this.outbox.length && entry.id < this.outbox.at(-1).id) {
      this.mergeOutbox([entry]); // out of order (another tab's entry arrived late): full rebase
      return;
    }
    this.outbox.push(entry);
    if (this.state !== null) this.state = this.apply(this.state, entry);
  }

  apply(state, entry) {
    try {
      const next = predict(state, entry.name, entry.args, nowOf(entry.hlc));
      this.localErrors.delete(entry.id);
      return next;
    } catch (err) {
      // The server is the authority; locally the entry is only left out of the displayed state.
      this.localErrors.set(entry.id, `${err.code ?? err.name}: ${err.message}`);
      return state;
    }
  }
}

const RECEIVERS = {
  welcome: Replica.prototype.onWelcome,
  patch: Replica.prototype.onPatch,
  ack: Replica.prototype.onAck,
  conflict: Replica.prototype.onConflict,
  error: Replica.prototype.onError,
  presence: Replica.prototype.onPresence,
  pong: () => [],
};
