// Jittered exponential backoff for reconnects (src/cvsession/client/backoff.py): 0.25 s doubling
// to 30 s, each delay scaled by 1 ± 50 %, so a server restart is not met by every client at once.

export class Backoff {
  constructor({ initial = 0.25, maximum = 30, factor = 2, jitter = 0.5, random = Math.random } = {}) {
    if (!(initial > 0 && initial <= maximum && factor >= 1 && jitter >= 0 && jitter < 1)) {
      throw new RangeError('need 0 < initial <= maximum, factor >= 1 and 0 <= jitter < 1');
    }
    Object.assign(this, { initial, maximum, factor, jitter, random });
    this.base = 0;
  }

  /** The next delay in seconds; the base grows for the one after. */
  next() {
    this.base = this.base === 0 ? this.initial : Math.min(this.base * this.factor, this.maximum);
    return this.base * (1 + this.jitter * (2 * this.random() - 1));
  }

  /** Start again from `initial` (after a connection worked). */
  reset() {
    this.base = 0;
  }
}
