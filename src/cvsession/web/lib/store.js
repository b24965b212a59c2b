// Durable local state in IndexedDB ('cvsession' database), shared by the tabs of a profile:
//   meta   {key: 'group', value}                     the profile's clientGroupID
//          {key: 'client:<clientID>', nextId, lastAcked, hlc}   per-client counters
//   outbox {sessionId, id, name, args, baseVersion, hlc}  key [sessionId, id]: pending mutations
//   docs   {sessionId, cookie, doc}                   the confirmed document at its cookie
// Ids are allocated and the entry written in ONE readwrite transaction over meta+outbox: such
// transactions are serialised by IndexedDB, so tabs enqueueing at once never share an id, and
// when entry N is visible every entry below N of that client is too.

const DB_NAME = 'cvsession';
const DB_VERSION = 1;

const req = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = () => reject(tx.error);
  tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
});

function randomId(bytes) {
  const a = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class LocalStore {
  static async open(indexedDB, keyRange = globalThis.IDBKeyRange) {
    if (!indexedDB) throw new Error('IndexedDB is not available');
    const opening = indexedDB.open(DB_NAME, DB_VERSION);
    opening.onupgradeneeded = () => {
      const db = opening.result;
      if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', { keyPath: 'key' });
      if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: ['sessionId', 'id'] });
      if (!db.objectStoreNames.contains('docs')) db.createObjectStore('docs', { keyPath: 'sessionId' });
    };
    const db = await req(opening);
    // Another tab upgrading the schema later must not be blocked by us.
    db.onversionchange = () => db.close();
    return new LocalStore(db, keyRange);
  }

  constructor(db, keyRange) {
    this.db = db;
    this.keyRange = keyRange; // IDBKeyRange of the same implementation (a global in browsers)
  }

  close() {
    this.db.close();
  }

  tx(stores, mode = 'readonly') {
    // 'strict' asks the browser to flush before oncomplete: an enqueued edit survives a crash.
    return mode === 'readwrite' ? this.db.transaction(stores, mode, { durability: 'strict' }) : this.db.transaction(stores, mode);
  }

  /** The profile's clientGroupID, created on first use (atomic across tabs). */
  async groupId() {
    const tx = this.tx(['meta'], 'readwrite');
    const meta = tx.objectStore('meta');
    let id;
    meta.get('group').onsuccess = (e) => {
      id = e.target.result?.value;
      if (!id) {
        id = randomId(11); // 88 bits; short enough that <group>:<sessionId> fits 64 chars
        meta.put({ key: 'group', value: id });
      }
    };
    await done(tx);
    return id;
  }

  async clientMeta(clientId) {
    const row = await req(this.tx(['meta']).objectStore('meta').get('client:' + clientId));
    return { nextId: row?.nextId ?? 1, lastAcked: row?.lastAcked ?? 0, hlc: row?.hlc ?? null };
  }

  /**
   * Allocate the next id of `clientId` and append the mutation, atomically. `stamp(lastHlc)` is
   * called inside the transaction with the last stamp any tab issued and returns the new one.
   */
  async append(sessionId, clientId, { name, args, baseVersion }, stamp) {
    const tx = this.tx(['meta', 'outbox'], 'readwrite');
    const meta = tx.objectStore('meta');
    let entry;
    meta.get('client:' + clientId).onsuccess = (e) => {
      const row = e.target.result ?? { key: 'client:' + clientId, nextId: 1, lastAcked: 0, hlc: null };
      const id = Math.max(row.nextId, row.lastAcked + 1);
      const hlc = stamp(row.hlc);
      entry = { sessionId, id, name, args, baseVersion, hlc };
      tx.objectStore('outbox').put(entry);
      meta.put({ ...row, nextId: id + 1, hlc });
    };
    await done(tx);
    return entry;
  }

  /** Pending mutations of a session, in id order. */
  async outbox(sessionId) {
    const range = this.keyRange.bound([sessionId, 0], [sessionId, Number.MAX_SAFE_INTEGER]);
    return req(this.tx(['outbox']).objectStore('outbox').getAll(range));
  }

  async loadDoc(sessionId) {
    return (await req(this.tx(['docs']).objectStore('docs').get(sessionId))) ?? null;
  }

  /**
   * One atomic step of the leader: optionally store the confirmed document, drop acknowledged
   * outbox entries up to `upto`, and raise the client's counters past `upto`.
   */
  async commit(sessionId, clientId, { cookie, doc, upto = 0, forgetDoc = false } = {}) {
    const tx = this.tx(['meta', 'outbox', 'docs'], 'readwrite');
    if (forgetDoc) tx.objectStore('docs').delete(sessionId);
    else if (cookie !== undefined && cookie !== null) tx.objectStore('docs').put({ sessionId, cookie, doc });
    if (upto > 0) {
      const range = this.keyRange.bound([sessionId, 0], [sessionId, upto]);
      tx.objectStore('outbox').delete(range);
      const meta = tx.objectStore('meta');
      meta.get('client:' + clientId).onsuccess = (e) => {
        const row = e.target.result ?? { key: 'client:' + clientId, nextId: 1, lastAcked: 0, hlc: null };
        // The server's count wins: ids at or below it are consumed even if this profile forgot.
        meta.put({ ...row, lastAcked: Math.max(row.lastAcked, upto), nextId: Math.max(row.nextId, upto + 1) });
      };
    }
    await done(tx);
  }

  /** Remove one refused entry (its id is consumed on the server). */
  async remove(sessionId, id) {
    const tx = this.tx(['outbox'], 'readwrite');
    tx.objectStore('outbox').delete([sessionId, id]);
    await done(tx);
  }
}

// drafts -------------------------------------------------------------------------------------------
/**
 * Field drafts in localStorage, written synchronously on every keystroke so a tab closed before
 * the debounce loses nothing. One key per session, shared by the tabs of the profile.
 */
export class Drafts {
  constructor(sessionId, storage) {
    this.key = 'cvsession:drafts:' + sessionId;
    this.storage = storage ?? memoryStorage();
  }

  all() {
    try {
      const parsed = JSON.parse(this.storage.getItem(this.key) ?? '{}');
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
    } catch {
      return {}; // a corrupt value must not break the session
    }
  }

  write(all) {
    if (Object.keys(all).length) this.storage.setItem(this.key, JSON.stringify(all));
    else this.storage.removeItem(this.key);
  }

  static id(form, field) {
    return JSON.stringify([form, field]);
  }

  /** Record the field's latest value; `baseVersion` stays that of the draft's first keystroke. */
  put(form, field, args, baseVersion = null) {
    const all = this.all();
    const id = Drafts.id(form, field);
    const seq = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const base = Number.isInteger(all[id]?.baseVersion) ? all[id].baseVersion : baseVersion;
    all[id] = { form, field, args, seq, baseVersion: base };
    this.write(all);
  }

  get(form, field) {
    return this.all()[Drafts.id(form, field)];
  }

  /** Forget a draft once enqueued, unless it was overwritten meanwhile (then it is newer). */
  settle(draft) {
    const all = this.all();
    const id = Drafts.id(draft.form, draft.field);
    if (all[id]?.seq === draft.seq) {
      delete all[id];
      this.write(all);
    }
  }
}

function memoryStorage() {
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
  };
}
