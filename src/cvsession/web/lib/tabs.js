// Tabs of one browser profile share one WebSocket per session: the leader holds the Web Lock
// 'cvsession:leader:<id>' until it closes, then a waiting tab gets it and takes over. Tabs talk
// over BroadcastChannel('cvsession:<id>'). Without Web Locks every tab leads (each opens its own
// socket with the same clientID: replays are harmless, only less efficient).

export class TabLink {
  constructor({ sessionId, locks, BroadcastChannelImpl, onMessage, onLeader }) {
    this.sessionId = sessionId;
    this.locks = locks;
    this.tabId = Math.random().toString(36).slice(2) + Date.now().toString(36);
    this.onMessage = onMessage;
    this.onLeader = onLeader;
    this.channel = BroadcastChannelImpl ? new BroadcastChannelImpl('cvsession:' + sessionId) : null;
    if (this.channel) {
      this.channel.onmessage = (event) => {
        const msg = event.data;
        if (msg && msg.from !== this.tabId && (!msg.to || msg.to === this.tabId)) this.onMessage(msg);
      };
    }
    this.abort = typeof AbortController === 'function' ? new AbortController() : null;
    this.release = null;
    this.closed = false;
  }

  start() {
    if (!this.locks?.request) {
      Promise.resolve(this.onLeader()).catch(() => {}); // closed while starting: nothing to lead
      return;
    }
    const held = new Promise((resolve) => { this.release = resolve; });
    this.locks.request('cvsession:leader:' + this.sessionId, { mode: 'exclusive', signal: this.abort?.signal }, async () => {
      if (this.closed) return;
      await this.onLeader();
      await held; // held until this tab closes the session
    }).catch(() => {}); // AbortError when closed while waiting
  }

  post(msg) {
    if (this.closed || !this.channel) return;
    try {
      this.channel.postMessage({ ...msg, from: this.tabId });
    } catch {
      /* a closed channel or an uncloneable value: the other tabs resync by snapshot */
    }
  }

  close() {
    this.closed = true;
    this.abort?.abort();
    this.release?.();
    this.channel?.close();
  }
}

/**
 * What a tab does with a message from another tab of the same session (`h` is its
 * SessionHandle): relayed server messages, outbox pokes, snapshots, status, presence, retry.
 */
export async function onTabMessage(h, m) {
  switch (m.t) {
    case 'server':
      if (!h.isLeader) h.onServer(m.msg, true);
      break;
    case 'outbox': // another tab enqueued: every tab shows it, the leader pushes it
      h.replica.mergeOutbox(await h.store.outbox(h.id));
      h.changed();
      h.pushPending();
      break;
    case 'snap?':
    case 'leader':
      if (m.t === 'snap?' && h.isLeader) {
        const r = h.replica;
        h.tabs.post({ t: 'snap', to: m.from, cookie: r.cookie, confirmed: r.confirmed, acked: r.acked, outbox: r.outbox,
          presence: r.presence, status: h.linkInfo() });
      } else if (m.t === 'leader' && !h.isLeader) {
        h.requestSnapshot();
      }
      break;
    case 'snap':
      if (h.isLeader) break;
      h.awaitingSnapshot = false;
      applySnapshot(h, m);
      break;
    case 'status':
      if (!h.isLeader) h.mirror(m.status);
      break;
    case 'presence':
      if (h.isLeader) {
        h.presenceWanted = m.presence;
        h.sendPresence();
      }
      break;
    case 'retry':
      if (h.isLeader) h.retry();
      break;
    case 'notfound':
      h.setNotFound();
      break;
    default:
      break;
  }
}

// A follower adopts the leader's confirmed state, keeping entries the leader has not seen yet.
function applySnapshot(h, m) {
  const top = m.outbox.length ? m.outbox.at(-1).id : m.acked;
  const mine = h.replica.outbox.filter((e) => e.id > top); // enqueued here, not yet seen there
  h.replica.load({ cookie: m.cookie, confirmed: m.confirmed, outbox: [...m.outbox, ...mine], acked: m.acked });
  h.replica.presence = m.presence;
  h.onEvent({ type: 'presence', clients: m.presence ?? [] }, true);
  h.mirror(m.status);
  h.changed();
  h.refreshConflicts();
}
