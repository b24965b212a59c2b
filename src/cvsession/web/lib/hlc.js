// Hybrid logical clock stamps `<ms>-<counter>-<clientID>` (docs/protocol.md "Terms"), as
// src/cvsession/client/hlc.py: the (ms, counter) pair only grows, even when the wall clock steps
// back, so a client's stamps order its mutations across restarts (the last one is persisted).

export function parseHlc(text) {
  const m = /^([0-9]+)-([0-9]+)-(.+)$/s.exec(typeof text === 'string' ? text : '');
  if (!m) throw new Error(`not an HLC stamp: ${text}`);
  return { ms: Number(m[1]), counter: Number(m[2]), clientId: m[3] };
}

export class HybridClock {
  constructor(clientId, last = null, wall = () => Date.now()) {
    this.clientId = clientId;
    this.wall = wall;
    this.ms = 0;
    this.counter = 0;
    if (last) this.restore(last);
  }

  /** Continue after a stamp issued before (e.g. by another tab of the same client). */
  restore(stamp) {
    const { ms, counter } = parseHlc(stamp);
    if (ms > this.ms || (ms === this.ms && counter > this.counter)) [this.ms, this.counter] = [ms, counter];
  }

  /** A stamp greater than every stamp issued or observed before. */
  now() {
    const wallMs = Math.floor(this.wall());
    if (wallMs > this.ms) [this.ms, this.counter] = [wallMs, 0];
    else this.counter += 1;
    return this.last;
  }

  /** Move past a remote physical time (the server's), so later stamps sort after it. */
  observe(remoteMs) {
    if (Number.isFinite(remoteMs) && remoteMs > this.ms) [this.ms, this.counter] = [Math.floor(remoteMs), 0];
  }

  get last() {
    return `${this.ms}-${this.counter}-${this.clientId}`;
  }
}
