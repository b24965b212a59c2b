// The leader tab's WebSocket: connect, heartbeat, offline detection and reconnection with
// jittered backoff. It only moves frames and reports the link's state; the session decides what
// to send. An open socket does not close when the network drops (NOTES.md: frames are held), so
// the link is declared dead when nothing arrives within `deadAfterMs` of a ping, or on the
// window's `offline` event; the socket is then abandoned, not awaited.

import { Backoff } from './backoff.js';

export const HEARTBEAT_MS = 10000;
export const DEAD_AFTER_MS = 5000;
export const OPEN_TIMEOUT_MS = 10000;
// Close codes after which reconnecting cannot help (docs/protocol.md "Error codes").
export const FATAL_CLOSE = { 4400: 'schema_version', 4401: 'unauthenticated', 4403: 'forbidden', 4404: 'not_found' };

export function wsUrl(sessionId, location = globalThis.location) {
  const scheme = location?.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location?.host ?? 'localhost'}/api/sessions/${encodeURIComponent(sessionId)}/ws`;
}

export class Connection {
  /**
   * hooks: onOpen(), onMessage(msg), onState(state, info), onClose(code) -> 'retry'|'stop'|undefined.
   * state is 'connecting' | 'open' | 'down' (waiting to reconnect) | 'offline' | 'stopped'.
   */
  constructor({ url, WebSocketImpl, hooks, heartbeatMs = HEARTBEAT_MS, deadAfterMs = DEAD_AFTER_MS,
    openTimeoutMs = OPEN_TIMEOUT_MS, backoff = new Backoff(), events = globalThis, online = () => globalThis.navigator?.onLine !== false }) {
    Object.assign(this, { url, WebSocketImpl, hooks, heartbeatMs, deadAfterMs, openTimeoutMs, backoff, online });
    this.ws = null;
    this.state = 'stopped';
    this.failures = 0; // consecutive attempts that did not reach an ack
    this.timers = new Set();
    this.lastRx = 0;
    this.onOffline = () => this.goOffline();
    this.onOnline = () => this.reconnectNow();
    this.events = typeof events?.addEventListener === 'function' ? events : null;
    this.events?.addEventListener('offline', this.onOffline);
    this.events?.addEventListener('online', this.onOnline);
  }

  start() {
    if (this.state !== 'stopped' || this.closed) return;
    if (!this.online()) this.setState('offline');
    else this.connect();
  }

  stop() {
    this.closed = true;
    this.events?.removeEventListener('offline', this.onOffline);
    this.events?.removeEventListener('online', this.onOnline);
    this.abandon();
    this.clearTimers();
    this.setState('stopped');
  }

  /** Send a text frame if the socket is open; return whether it was handed to the socket. */
  send(text) {
    if (this.state !== 'open' || !this.ws) return false;
    try {
      this.ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  /** A full round trip worked (the session saw an ack): start the backoff afresh. */
  healthy() {
    this.failures = 0;
    this.backoff.reset();
  }

  /** Replace the socket now (a resync), or after a short random delay to spread reconnects. */
  resync() {
    this.abandon();
    this.later(this.backoff.initial * 1000 * Math.random(), () => this.connect());
    this.setState('down', { reason: 'resync' });
  }

  /** Reconnect at once with a fresh backoff (the user's "retry", the `online` event). */
  reconnectNow(force = false) {
    if (this.closed || (this.state === 'stopped' && !force)) return; // a fatal refusal waits for retry()
    this.abandon();
    this.clearTimers();
    this.healthy();
    this.connect();
  }

  goOffline() {
    if (this.state === 'stopped') return;
    this.abandon();
    this.clearTimers();
    this.setState('offline');
  }

  // internals --------------------------------------------------------------------------------------
  connect() {
    if (this.closed) return;
    this.clearTimers();
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      this.down(0, String(err?.message ?? err));
      return;
    }
    this.ws = ws;
    this.setState('connecting');
    const openTimer = this.later(this.openTimeoutMs, () => this.ws === ws && this.kill('open timeout'));
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.timers.delete(openTimer);
      clearTimeout(openTimer);
      this.lastRx = Date.now();
      this.setState('open');
      this.hooks.onOpen();
      this.heartbeat(ws);
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastRx = Date.now();
      let msg;
      try {
        msg = JSON.parse(typeof event.data === 'string' ? event.data : '');
      } catch {
        return; // not JSON: ignore the frame
      }
      if (msg && typeof msg === 'object' && !Array.isArray(msg)) this.hooks.onMessage(msg);
    };
    ws.onerror = () => {}; // a close event follows with the code
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.detach();
      const verdict = this.hooks.onClose?.(event.code, event.reason);
      if (verdict === 'stop') {
        this.clearTimers();
        this.setState('stopped', { code: event.code });
      } else if (verdict === 'wait') {
        this.clearTimers(); // the session reconnects itself (e.g. after renewing the identity)
      } else {
        this.down(event.code, event.reason || `closed with ${event.code}`);
      }
    };
  }

  heartbeat(ws) {
    const tick = () => {
      if (this.ws !== ws || this.state !== 'open') return;
      const sentAt = Date.now();
      this.send('{"type":"ping"}');
      this.later(this.deadAfterMs, () => {
        if (this.ws === ws && this.lastRx < sentAt) this.kill('no answer to ping');
      });
      this.later(this.heartbeatMs, tick);
    };
    this.later(this.heartbeatMs, tick);
  }

  /** Give up on a socket that may never close by itself, and reconnect with backoff. */
  kill(reason) {
    this.abandon();
    this.down(0, reason);
  }

  down(code, reason) {
    this.clearTimers();
    if (!this.online()) {
      this.setState('offline');
      return;
    }
    this.failures += 1;
    const delay = this.backoff.next() * 1000;
    this.setState('down', { code, reason, failures: this.failures, delay });
    this.later(delay, () => this.connect());
  }

  detach() {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    this.ws = null;
  }

  abandon() {
    const ws = this.ws;
    this.detach();
    try {
      ws?.close();
    } catch {
      /* already closed */
    }
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  setState(state, info = {}) {
    this.state = state;
    this.hooks.onState?.(state, info);
  }
}
