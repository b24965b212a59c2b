// SessionHandle: one session in one tab. Composes the durable store (IndexedDB + drafts), the
// replica (sync state machine), the leader election between tabs and, in the leader tab only,
// the WebSocket connection. Followers run the same replica on the leader's relayed messages and
// write only their own outbox entries; only the leader persists confirmed documents and drops
// acknowledged entries, so two tabs never race to write different versions of the cache.

import { Backoff } from './backoff.js';
import { Connection, wsUrl } from './connection.js';
import { HybridClock } from './hlc.js';
import { createApi, ensureIdentity } from './http.js';
import { Replica } from './replica.js';
import { Drafts, LocalStore } from './store.js';
import { TabLink, onTabMessage } from './tabs.js';

const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const FAILURES_BEFORE_ERROR = 6; // consecutive failed connects (while online) shown as 'error'
const FIELD_OPTIONS = ['touched', 'dirty', 'valid', 'errors', 'warnings'];

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (const ch of text) h = Math.imul(h ^ ch.codePointAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** One clientID per (profile, session), within the protocol's 64 characters of [A-Za-z0-9_.:-]. */
export function makeClientId(groupId, sessionId) {
  const plain = `${groupId}:${sessionId}`;
  return CLIENT_ID.test(plain) ? plain : `${groupId}:h${fnv1a(sessionId)}`;
}

export class SessionHandle {
  constructor(sessionId, o) {
    this.id = sessionId;
    this.o = o;
    this.http = createApi(o.fetchImpl);
    this.listeners = new Map();
    this.presence = [];
    this.conflicts = [];
    this.isLeader = false;
    this.notFound = false;
    this.link = 'connecting'; // the leader's link state; followers mirror the leader's
    this.fatal = null; // {code, message} after which the leader stopped (until retry())
    this.trouble = null; // repeated failures while online
    this.status = { kind: 'saved', pending: 0 };
    this.persisting = Promise.resolve(); // leader's IndexedDB writes, in message order
    this.flushing = Promise.resolve();
    this.timers = new Set();
    this.presenceWanted = null;
    this.closed = false;
  }

  async init() {
    const o = this.o;
    this.store = await LocalStore.open(o.indexedDBImpl, o.IDBKeyRangeImpl);
    this.groupId = await this.store.groupId();
    this.clientId = makeClientId(this.groupId, this.id);
    const meta = await this.store.clientMeta(this.clientId);
    this.clock = new HybridClock(this.clientId, meta.hlc);
    this.replica = new Replica({ sessionId: this.id, clientId: this.clientId });
    const cached = await this.store.loadDoc(this.id);
    this.replica.load({ cookie: cached?.cookie ?? null, confirmed: cached?.doc ?? null,
      outbox: await this.store.outbox(this.id), acked: meta.lastAcked });
    this.state = this.replica.state;
    this.drafts = new Drafts(this.id, o.storage);
    await this.flush(); // leftover drafts of a closed tab become mutations before anything else
    this.tabs = new TabLink({ sessionId: this.id, locks: o.locks, BroadcastChannelImpl: o.BroadcastChannelImpl,
      onMessage: (m) => this.onTab(m), onLeader: () => this.lead() });
    this.tabs.post({ t: 'snap?' });
    this.tabs.start();
    this.refreshStatus();
    return this;
  }

  // events -----------------------------------------------------------------------------------------
  on(event, cb) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(cb);
    return () => this.listeners.get(event)?.delete(cb);
  }

  emit(event, payload) {
    for (const cb of [...(this.listeners.get(event) ?? [])]) {
      try {
        cb(payload);
      } catch (err) {
        console.error(`cvsession: a '${event}' listener failed`, err); // eslint-disable-line no-console
      }
    }
  }

  get version() {
    return this.replica.cookie;
  }

  // editing ----------------------------------------------------------------------------------------
  async mutate(name, args = {}) {
    return this.enqueue(name, args, this.replica.cookie);
  }

  // `baseVersion` is the version the user saw when making the edit: a field typed while offline
  // keeps the version of its first keystroke, so a concurrent edit elsewhere is a conflict.
  async enqueue(name, args, baseVersion) {
    if (this.closed) throw new Error('the session handle is closed');
    if (typeof name !== 'string' || !name || name.startsWith('server.')) throw new TypeError(`mutation ${name} cannot be sent`);
    this.replica.checkSize(name, args); // throws for non-JSON or above one push frame
    const entry = await this.store.append(this.id, this.clientId, { name, args: structuredClone(args),
      baseVersion }, (last) => {
      if (last) this.clock.restore(last); // another tab may have stamped after us
      return this.clock.now();
    });
    this.replica.add(entry);
    this.changed();
    this.tabs.post({ t: 'outbox' });
    this.pushPending();
  }

  setField(form, field, value, opts = {}) {
    const args = { value };
    for (const k of FIELD_OPTIONS) if (opts[k] !== undefined) args[k] = opts[k];
    this.drafts.put(form, field, args, this.replica.cookie); // synchronous: survives a closing tab
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => { this.flush().catch(() => {}); }, this.o.debounceMs);
    this.refreshStatus();
  }

  fieldDraft(form, field) {
    return this.drafts.get(form, field)?.args;
  }

  flush() {
    clearTimeout(this.draftTimer);
    this.flushing = this.flushing.then(async () => {
      for (const draft of Object.values(this.drafts.all())) {
        if (!draft || typeof draft.form !== 'string' || typeof draft.field !== 'string') continue;
        try {
          const base = Number.isInteger(draft.baseVersion) && (this.replica.cookie === null || draft.baseVersion <= this.replica.cookie)
            ? draft.baseVersion : this.replica.cookie;
          await this.enqueue('form.setField', { form: draft.form, field: draft.field, ...draft.args }, base);
        } catch (err) {
          this.emit('error', { code: 'invalid_draft', message: String(err.message), mutationID: null });
        }
        this.drafts.settle(draft); // only once durable in the outbox (or hopeless)
      }
      this.refreshStatus();
    });
    return this.flushing;
  }

  async resolveConflict(conflictId, choice, value) {
    const args = { conflictId, choice };
    if (choice === 'value') args.value = value;
    this.conflicts = this.conflicts.filter((c) => c.id !== conflictId); // optimistic; refreshed later
    this.emit('conflicts', this.conflicts);
    await this.mutate('conflict.resolve', args);
  }

  setPresence(step, substep = null) {
    this.presenceWanted = { step, substep: substep ?? null };
    if (this.o.device) this.presenceWanted.device = String(this.o.device).slice(0, 64);
    if (this.isLeader) this.sendPresence();
    else this.tabs?.post({ t: 'presence', presence: this.presenceWanted });
  }

  retry() {
    this.fatal = null;
    this.trouble = null;
    this.refreshStatus();
    if (this.notFound) return;
    if (this.isLeader) this.conn?.reconnectNow(true);
    else this.tabs.post({ t: 'retry' });
  }

  async close() {
    if (this.closed) return;
    await this.flush().catch(() => {});
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.conn?.stop();
    this.tabs?.close(); // releases the lock: another tab takes over the socket
    await this.persisting.catch(() => {});
    this.store.close();
  }

  // leader -------------------------------------------------------------------------------------------
  async lead() {
    if (this.closed) return;
    this.isLeader = true;
    // The previous leader persisted before relaying; adopt anything newer than our memory.
    const cached = await this.store.loadDoc(this.id);
    const meta = await this.store.clientMeta(this.clientId);
    if (cached && (this.replica.cookie === null || cached.cookie > this.replica.cookie)) {
      this.replica.load({ cookie: cached.cookie, confirmed: cached.doc, outbox: this.replica.outbox, acked: meta.lastAcked });
    }
    this.replica.mergeOutbox(await this.store.outbox(this.id));
    if (this.closed) return; // closed while we read: do not open a socket nobody will stop
    this.changed();
    const o = this.o;
    this.conn = new Connection({
      url: o.url ?? wsUrl(this.id), WebSocketImpl: o.WebSocketImpl, heartbeatMs: o.heartbeatMs, deadAfterMs: o.deadAfterMs,
      backoff: o.backoff ?? new Backoff(), events: o.windowEvents, online: o.online,
      hooks: {
        onOpen: () => this.conn.send(JSON.stringify(
          this.replica.hello(this.groupId, o.device, Math.floor(this.clock.wall())))),
        onMessage: (msg) => this.onServer(msg),
        onState: (state, info) => this.onLink(state, info),
        onClose: (code, reason) => this.onClose(code, reason),
      },
    });
    this.tabs.post({ t: 'leader' });
    this.conn.start();
  }

  onLink(state, info) {
    if (state !== 'open') this.replica.disconnected();
    this.link = state;
    if (state === 'down' && info.failures >= FAILURES_BEFORE_ERROR) {
      this.trouble = { message: `cannot reach the server (${info.reason ?? 'connection failed'})` };
    }
    this.broadcastStatus();
  }

  onClose(code, reason) {
    if (code === 4404) {
      this.setNotFound();
      return 'stop';
    }
    if (code === 4401 && !this.renewedIdentity) {
      this.renewedIdentity = true; // once: a second 4401 is an error the user must see
      ensureIdentity(this.o.fetchImpl).then(() => this.conn.reconnectNow(true),
        (err) => this.setFatal('unauthenticated', String(err.message)));
      return 'wait';
    }
    if (code === 4400 || code === 4401 || code === 4403) {
      this.setFatal(this.lastServerError?.code ?? 'refused', this.lastServerError?.message ?? reason ?? `closed with ${code}`);
      return 'stop';
    }
    return undefined;
  }

  pushPending() {
    if (!this.isLeader || !this.conn || !this.replica.handshakeDone || this.holding) return;
    for (const frame of this.replica.pushFrames()) if (!this.conn.send(frame)) break;
  }

  sendPresence() {
    if (this.presenceWanted && this.replica.handshakeDone) {
      this.conn?.send(JSON.stringify({ type: 'presence', ...this.presenceWanted }));
    }
  }

  persist(ev) {
    const { cookie, doc, upto, forgetDoc } = ev;
    this.persisting = this.persisting.then(() => this.store.commit(this.id, this.clientId, { cookie, doc, upto, forgetDoc }))
      .catch((err) => this.emit('error', { code: 'storage', message: String(err?.message ?? err), mutationID: null }));
  }

  // server messages (the leader's own, or relayed to a follower) -------------------------------------
  onServer(msg, relayed = false) {
    if (!relayed && msg.type !== 'pong') this.tabs.post({ t: 'server', msg });
    if (relayed && this.awaitingSnapshot) return; // the snapshot supersedes what came before it
    for (const ev of this.replica.receive(msg)) this.onEvent(ev, relayed);
    this.changed();
  }

  onEvent(ev, relayed) {
    const leader = this.isLeader && !relayed;
    switch (ev.type) {
      case 'persist':
        if (leader) this.persist(ev);
        break;
      case 'welcome':
        this.clock.observe(ev.serverTime);
        this.lastServerError = null;
        this.refreshConflicts();
        break;
      case 'patched':
        if (this.conflicts.length) this.refreshConflicts(); // a resolution may have landed
        break;
      case 'acked':
        if (leader) {
          this.conn.healthy();
          this.trouble = null;
          if (!this.presenceSent) this.sendPresence();
          this.presenceSent = true;
          this.pushPending();
        }
        if (this.replica.settling.length) this.later(this.replica.settleMs + 10, () => this.replica.settle() && this.changed());
        break;
      case 'conflict':
        this.refreshConflicts();
        break;
      case 'refused':
        if (leader) this.persisting = this.persisting.then(() => this.store.remove(this.id, ev.entry.id)).catch(() => {});
        break;
      case 'error':
        this.onServerError(ev, leader);
        break;
      case 'resend':
        if (!leader) break;
        if (ev.backoff) {
          this.holding = true;
          this.later(this.conn.backoff.next() * 1000, () => { this.holding = false; this.pushPending(); });
        } else {
          this.pushPending();
        }
        break;
      case 'resync':
        if (leader) this.conn.resync();
        else this.requestSnapshot();
        break;
      case 'presence':
        this.presence = ev.clients.map((c) => ({ clientID: c.clientID, device: c.device ?? '', step: c.step ?? null,
          substep: c.substep ?? null, lastSeen: c.lastSeen ?? null, self: c.clientID === this.clientId }));
        this.emit('presence', this.presence);
        break;
      default:
        break;
    }
  }

  onServerError(ev, leader) {
    if (ev.code === 'not_found') {
      this.setNotFound();
      return;
    }
    if (ev.code === 'mutation_gap') return; // handled by a resend
    if (ev.mutationID === null) {
      this.lastServerError = ev;
      // bad_message, bad_json, too_large: the socket stays open but our frame was ignored.
      if (!ev.retryable && leader && !['unauthenticated', 'forbidden_origin', 'forbidden_client', 'schema_version'].includes(ev.code)) {
        this.setFatal(ev.code, ev.message);
      }
    }
    this.emit('error', { code: ev.code, message: ev.message, mutationID: ev.mutationID });
  }

  setNotFound() {
    if (this.notFound) return;
    this.notFound = true;
    this.conn?.stop();
    if (this.isLeader) this.tabs.post({ t: 'notfound' });
    this.refreshStatus();
    this.emit('notfound');
  }

  setFatal(code, message) {
    this.fatal = { code, message };
    this.broadcastStatus();
  }

  async refreshConflicts() {
    if (this.conflictTimer || this.closed) return;
    this.conflictTimer = this.later(30, async () => { // coalesce a burst of conflict messages
      this.conflictTimer = null;
      try {
        const body = await this.http.get(`/api/sessions/${encodeURIComponent(this.id)}/conflicts?status=open`);
        this.conflicts = Array.isArray(body?.conflicts) ? body.conflicts.filter((c) => c.status === 'open') : [];
        this.emit('conflicts', this.conflicts);
      } catch {
        /* offline: the next connect refreshes */
      }
    });
  }

  // tabs -------------------------------------------------------------------------------------------------
  requestSnapshot() {
    this.awaitingSnapshot = true;
    this.tabs.post({ t: 'snap?' });
  }

  onTab(m) {
    if (!this.closed) onTabMessage(this, m).catch(() => {}); // a store closed meanwhile: ignore
  }

  linkInfo() {
    return { link: this.link, fatal: this.fatal, trouble: this.trouble, notFound: this.notFound };
  }

  mirror(s) {
    if (!s) return;
    this.link = s.link;
    this.fatal = s.fatal;
    this.trouble = s.trouble;
    if (s.notFound) this.setNotFound();
    this.refreshStatus();
  }

  broadcastStatus() {
    if (this.isLeader) this.tabs.post({ t: 'status', status: this.linkInfo() });
    this.refreshStatus();
  }

  // displayed state and status ---------------------------------------------------------------------------
  changed() {
    if (this.replica.state !== this.state) {
      this.state = this.replica.state;
      this.emit('change', this.state);
    }
    this.refreshStatus();
  }

  refreshStatus() {
    if (!this.replica || !this.drafts) return;
    const pending = this.replica.outbox.length + Object.keys(this.drafts.all()).length;
    let next;
    const problem = this.notFound ? { message: 'this session does not exist (or is not yours)' } : this.fatal ?? this.trouble;
    if (problem) next = { kind: 'error', pending, message: problem.message };
    else if (this.link === 'open' || this.link === 'connecting') next = { kind: pending ? 'saving' : 'saved', pending };
    else next = { kind: 'offline', pending };
    if (next.kind !== this.status.kind || next.pending !== this.status.pending || next.message !== this.status.message) {
      this.status = next;
      this.emit('status', next);
    }
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
    return t;
  }
}
