// Test doubles for node (no WebSocket, Web Locks, BroadcastChannel or localStorage in Node 20):
// a minimal in-process sync server speaking docs/protocol.md, and fakes of the browser APIs.
import jsonpatch from 'fast-json-patch';
import { IDBKeyRange, IDBFactory } from 'fake-indexeddb';
import { predict } from '../../src/cvsession/web/lib/predict.js';

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

export async function until(predicate, { timeout = 2000, step = 5 } = {}) {
  const end = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeout} ms: ${predicate}`);
    await tick(step);
  }
}

export class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

/** Web Locks: exclusive, FIFO, released when the callback's promise settles; honours signal. */
export class FakeLocks {
  constructor() { this.held = new Map(); this.queues = new Map(); }
  request(name, opts, cb) {
    return new Promise((resolve, reject) => {
      const q = this.queues.get(name) ?? [];
      this.queues.set(name, q);
      const waiter = { cb, resolve, reject };
      opts?.signal?.addEventListener('abort', () => {
        const i = q.indexOf(waiter);
        if (i >= 0) { q.splice(i, 1); reject(new Error('AbortError')); }
      });
      q.push(waiter);
      this.pump(name);
    });
  }
  pump(name) {
    if (this.held.get(name)) return;
    const q = this.queues.get(name);
    const next = q?.shift();
    if (!next) return;
    this.held.set(name, true);
    Promise.resolve().then(() => next.cb({ name })).then(next.resolve, next.reject).finally(() => {
      this.held.set(name, false);
      this.pump(name);
    });
  }
}

/** BroadcastChannel: delivers a structured clone to every other open channel of the name. */
export function makeBroadcastChannel() {
  const registry = new Map();
  return class FakeBroadcastChannel {
    constructor(name) {
      this.name = name;
      this.onmessage = null;
      if (!registry.has(name)) registry.set(name, new Set());
      registry.get(name).add(this);
    }
    postMessage(data) {
      const copy = structuredClone(data);
      for (const other of registry.get(this.name)) {
        if (other !== this) setTimeout(() => other.onmessage?.({ data: structuredClone(copy) }), 0);
      }
    }
    close() { registry.get(this.name)?.delete(this); }
  };
}

export const freshIndexedDB = () => new IDBFactory();
export { IDBKeyRange };

/**
 * A tiny server: one session document, per-client lastMutationID, mutations applied with the
 * predictors (a stand-in for core handlers), patches computed with fast-json-patch's compare.
 */
export class FakeServer {
  constructor(doc) {
    this.doc = structuredClone(doc);
    this.version = doc.version ?? 0;
    this.last = new Map();
    this.sockets = [];
    this.refuse = new Set(); // mutation names to refuse with a domain error
    this.log = [];
  }

  /** The WebSocket class to hand to openSession. */
  get WebSocket() {
    const server = this;
    return class FakeWebSocket {
      constructor(url) {
        this.url = url;
        this.readyState = 0;
        this.sent = [];
        this.cookie = null;
        server.sockets.push(this);
        setTimeout(() => {
          if (this.readyState !== 0) return;
          if (server.closeWith) { this.serverClose(server.closeWith); return; }
          this.readyState = 1;
          this.onopen?.({});
        }, 1);
      }
      send(text) {
        if (this.readyState !== 1) throw new Error('not open');
        this.sent.push(text);
        if (server.deaf) return; // a dropped network: frames vanish, nothing comes back
        setTimeout(() => server.receive(this, JSON.parse(text)), 0);
      }
      close() { this.readyState = 3; }
      deliver(msg) { if (this.readyState === 1 && !server.deaf) setTimeout(() => this.onmessage?.({ data: JSON.stringify(msg) }), 0); }
      serverClose(code) { this.readyState = 3; this.onclose?.({ code, reason: '' }); }
    };
  }

  get open() { return this.sockets.filter((s) => s.readyState === 1); }

  receive(ws, msg) {
    if (msg.type === 'hello') {
      ws.clientID = msg.clientID;
      ws.deliver({ type: 'welcome', sessionID: this.doc.id, clientID: msg.clientID, protocol: 1, serverTime: new Date().toISOString() });
      ws.deliver({ type: 'patch', baseCookie: msg.cookie, cookie: this.version, reset: true,
        ops: [{ op: 'replace', path: '', value: this.doc }], lastMutationIDChanges: {} });
      ws.cookie = this.version;
      ws.deliver({ type: 'ack', lastMutationID: this.last.get(msg.clientID) ?? 0 });
      ws.deliver({ type: 'presence', clients: [{ clientID: msg.clientID, device: msg.device ?? '', step: null, substep: null, lastSeen: 'now' }] });
    } else if (msg.type === 'push') {
      const before = this.doc;
      let lastId = this.last.get(ws.clientID) ?? 0;
      for (const m of msg.mutations) {
        if (m.id <= lastId) continue;
        if (m.id !== lastId + 1) {
          ws.deliver({ type: 'error', code: 'mutation_gap', message: 'gap', retryable: true, mutationID: m.id, expected: lastId + 1, received: m.id });
          break;
        }
        lastId = m.id;
        this.log.push(m);
        if (this.refuse.has(m.name)) {
          ws.deliver({ type: 'error', code: 'invalid_input', message: 'refused', retryable: false, mutationID: m.id });
          continue;
        }
        try {
          const next = predict(this.doc, m.name, m.args, new Date());
          if (next !== this.doc) this.version += 1; // one version per applied mutation
          this.doc = next;
        } catch { /* refused: ignored here */ }
      }
      this.last.set(ws.clientID, lastId);
      if (this.doc !== before) {
        this.doc = { ...this.doc, version: this.version };
        const ops = jsonpatch.compare(before, this.doc);
        for (const other of this.open) {
          other.deliver({ type: 'patch', baseCookie: other.cookie, cookie: this.version, reset: false, ops,
            lastMutationIDChanges: { [ws.clientID]: lastId } });
          other.cookie = this.version;
        }
      }
      ws.deliver({ type: 'ack', lastMutationID: lastId });
    } else if (msg.type === 'ping') {
      ws.deliver({ type: 'pong' });
    } else if (msg.type === 'presence') {
      this.presence = msg;
    }
  }
}

export function newDoc(id = 's_test') {
  const steps = {};
  const subs = { upload: ['file-select', 'file-validate', 'file-upload'] };
  for (const s of ['upload', 'processing', 'analysis', 'features', 'templates', 'preview', 'results', 'keywords', 'completed']) {
    steps[s] = { status: 'pending', completion: 0, timeSpentMs: 0, interactions: 0, startedAt: null, completedAt: null,
      enteredAt: null, lastModified: null, substeps: Object.fromEntries((subs[s] ?? ['a']).map((x) => [x, { status: 'pending', data: {}, validationErrors: [], startedAt: null, completedAt: null }])) };
  }
  return { id, title: '', status: 'draft', currentStep: 'upload', currentSubstep: 'file-select', completedSteps: [], version: 0,
    lastActiveAt: '2026-11-25T12:00:00.000Z', steps, features: {}, rules: {}, template: { selected: null, customizations: {} },
    forms: {}, validation: {}, ui: {}, navigation: { history: [], lastDeepLink: null }, cv: null,
    target: { role: '', jobDescription: '', instructions: '' }, data: {} };
}

export function fakeFetch(routes = {}) {
  const calls = [];
  const impl = async (url, init = {}) => {
    calls.push({ url, init });
    const key = `${init.method ?? 'GET'} ${url.split('?')[0]}`;
    const route = routes[key];
    const [status, body] = route ? (typeof route === 'function' ? route(url, init) : route) : [404, { title: 'Not Found', status: 404 }];
    return new Response(body === undefined ? '' : JSON.stringify(body), { status,
      headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' } });
  };
  impl.calls = calls;
  return impl;
}
