// The browser client of cvsession: plain ES modules, no build step. The UI imports this module
// only. See docs/decisions/0019-browser-client.md for the design and docs/protocol.md for the wire.

import { SessionHandle } from './session.js';

export { ApiError, api, ensureIdentity } from './http.js';
export { evaluate as evaluateRule, validateCondition, validateRule, ruleContext, evaluateRules,
  featureAvailability } from './rules.js';

/**
 * Open a session: the cached document and the pending outbox are shown at once (offline too);
 * the leader tab connects. Options are injectable for tests and non-browser hosts.
 */
export async function openSession(sessionId, {
  device, debounceMs = 400, fetchImpl, WebSocketImpl, indexedDBImpl, locks, BroadcastChannelImpl,
  // not part of the documented surface: storage and timing hooks for tests and embedding
  storage, IDBKeyRangeImpl, url, heartbeatMs, deadAfterMs, backoff, windowEvents, online,
} = {}) {
  if (typeof sessionId !== 'string' || !sessionId) throw new TypeError('a session id is required');
  const g = globalThis;
  const handle = new SessionHandle(sessionId, {
    device,
    debounceMs,
    fetchImpl: fetchImpl ?? (g.fetch ? g.fetch.bind(g) : undefined),
    WebSocketImpl: WebSocketImpl ?? g.WebSocket,
    indexedDBImpl: indexedDBImpl ?? g.indexedDB,
    IDBKeyRangeImpl: IDBKeyRangeImpl ?? g.IDBKeyRange,
    locks: locks ?? g.navigator?.locks,
    BroadcastChannelImpl: BroadcastChannelImpl ?? g.BroadcastChannel,
    storage: storage ?? safeLocalStorage(),
    url,
    heartbeatMs,
    deadAfterMs,
    backoff,
    windowEvents: windowEvents ?? g,
    online,
  });
  return handle.init();
}

function safeLocalStorage() {
  try {
    return globalThis.localStorage ?? undefined; // throws in some privacy modes
  } catch {
    return undefined;
  }
}
