// SessionHandle end to end against an in-process fake server, with fake IndexedDB, Web Locks,
// BroadcastChannel and localStorage: durability across reopen, drafts, leader election and relay,
// not-found, and offline detection by heartbeat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSession } from '../../src/cvsession/web/lib/cvsession.js';
import { Backoff } from '../../src/cvsession/web/lib/backoff.js';
import { FakeLocks, FakeServer, IDBKeyRange, MemoryStorage, fakeFetch, freshIndexedDB, makeBroadcastChannel, newDoc, tick, until } from './fakes.mjs';

function env(server, extra = {}) {
  return {
    indexedDBImpl: extra.idb ?? freshIndexedDB(), IDBKeyRangeImpl: IDBKeyRange, storage: extra.storage ?? new MemoryStorage(),
    WebSocketImpl: server?.WebSocket ?? class { constructor() { throw new Error('offline'); } },
    fetchImpl: fakeFetch({ 'GET /api/sessions/s_test/conflicts': [200, { conflicts: [] }], ...(extra.routes ?? {}) }),
    locks: extra.locks, BroadcastChannelImpl: extra.BC, url: 'ws://test/api/sessions/s_test/ws', windowEvents: null,
    backoff: new Backoff({ initial: 0.01, maximum: 0.05 }), debounceMs: 20, device: extra.device, ...extra.opts,
  };
}

/** What the browser does to a closed tab: everything stops, nothing is flushed or awaited. */
function killTab(h) {
  h.closed = true;
  clearTimeout(h.draftTimer);
  for (const t of h.timers) clearTimeout(t);
  h.conn?.stop();
  h.tabs.close();
}

test('edits made offline survive closing the tab and are pushed after reopening', async () => {
  const idb = freshIndexedDB();
  const storage = new MemoryStorage();
  const server = new FakeServer(newDoc());
  // First visit online: the document is cached.
  const first = await openSession('s_test', env(server, { idb, storage }));
  await until(() => first.status.kind === 'saved' && first.version === 0 && first.state);
  await first.close();
  // Offline: the cached document shows at once, edits queue in IndexedDB.
  const offline = await openSession('s_test', env(null, { idb, storage }));
  assert.equal(offline.state.id, 's_test', 'the cached document is shown before any network answer');
  await offline.mutate('template.select', { template: 'classic' });
  await offline.mutate('ui.set', { values: { panel: 'x' } });
  assert.equal(offline.state.template.selected, 'classic', 'applied optimistically');
  await until(() => offline.status.kind === 'offline');
  assert.equal(offline.status.pending, 2);
  await offline.close();
  // Reopen online: the outbox is still there, is pushed, and the server applies it once.
  const online = await openSession('s_test', env(server, { idb, storage }));
  assert.equal(online.state.template.selected, 'classic', 'outbox re-applied on the cache before the network answers');
  await until(() => online.status.kind === 'saved' && online.version === 2);
  assert.deepEqual(server.log.map((m) => m.name), ['template.select', 'ui.set']);
  assert.deepEqual(server.log.map((m) => m.id), [1, 2]);
  assert.equal(server.doc.template.selected, 'classic');
  assert.equal(online.state.ui.panel, 'x');
  await online.close();
});

test('drafts are saved synchronously, survive a closed tab, and flush into form.setField', async () => {
  const idb = freshIndexedDB();
  const storage = new MemoryStorage();
  const server = new FakeServer(newDoc());
  const a = await openSession('s_test', env(null, { idb, storage, opts: { debounceMs: 60_000 } }));
  a.setField('contact', 'email', 'a@b', { touched: true });
  assert.deepEqual(a.fieldDraft('contact', 'email'), { value: 'a@b', touched: true });
  assert.match(storage.getItem('cvsession:drafts:s_test'), /a@b/, 'written at once, before any debounce');
  assert.equal(a.status.pending, 1);
  // The tab dies without close(): nothing flushed the draft.
  killTab(a);
  const b = await openSession('s_test', env(server, { idb, storage }));
  assert.equal(b.fieldDraft('contact', 'email'), undefined, 'the leftover draft became a mutation on open');
  await until(() => server.log.length === 1 && b.status.kind === 'saved');
  assert.deepEqual(server.log[0].args, { form: 'contact', field: 'email', value: 'a@b', touched: true });
  assert.equal(b.state.forms.contact.fields.email.value, 'a@b');
  // Debounced: several keystrokes become one mutation with the last value.
  b.setField('contact', 'name', 'A');
  b.setField('contact', 'name', 'Ad');
  b.setField('contact', 'name', 'Ada', { valid: true, errors: [] });
  await until(() => server.log.length === 2);
  assert.deepEqual(server.log[1].args, { form: 'contact', field: 'name', value: 'Ada', valid: true, errors: [] });
  assert.equal(storage.getItem('cvsession:drafts:s_test'), null);
  await b.close();
});

test('two tabs: one leader holds the only socket, the follower relays through it and both converge', async () => {
  const idb = freshIndexedDB();
  const storage = new MemoryStorage();
  const locks = new FakeLocks();
  const BC = makeBroadcastChannel();
  const server = new FakeServer(newDoc());
  const shared = { idb, storage, locks, BC };
  const t1 = await openSession('s_test', env(server, shared));
  await until(() => t1.isLeader && t1.status.kind === 'saved' && t1.state);
  const t2 = await openSession('s_test', env(server, shared));
  await until(() => t2.state && t2.version === t1.version);
  assert.equal(t2.isLeader, false);
  await t2.mutate('target.set', { role: 'Engineer' });
  assert.equal(t2.state.target.role, 'Engineer', 'optimistic in the follower');
  await t1.mutate('ui.set', { values: { theme: 'dark' } });
  await until(() => server.log.length === 2 && t1.version === 2 && t2.version === 2 && t1.status.pending === 0 && t2.status.pending === 0);
  assert.equal(server.sockets.length, 1, 'only the leader opened a socket');
  assert.deepEqual(server.log.map((m) => m.id), [1, 2], 'ids allocated once across tabs');
  assert.deepEqual(t1.state, t2.state, 'both tabs converge');
  assert.equal(t2.state.ui.theme, 'dark');
  assert.equal(t1.state.target.role, 'Engineer');
  assert.ok(t2.presence.length === 1 && t2.presence[0].self === true, 'presence relayed');
  // The leader closes: the follower takes the lock and opens the socket.
  await t1.close();
  await until(() => t2.isLeader && server.open.length === 1 && t2.status.kind === 'saved');
  await t2.mutate('template.select', { template: 'creative' });
  await until(() => server.doc.template.selected === 'creative' && t2.status.pending === 0);
  assert.equal(server.log.at(-1).id, 3);
  await t2.close();
});

test('a refused mutation is rolled back and reported as an error event', async () => {
  const server = new FakeServer(newDoc());
  server.refuse.add('template.select');
  const s = await openSession('s_test', env(server));
  await until(() => s.status.kind === 'saved' && s.state);
  const errors = [];
  s.on('error', (e) => errors.push(e));
  await s.mutate('template.select', { template: 'modern' });
  assert.equal(s.state.template.selected, 'modern');
  await until(() => errors.length === 1 && s.status.pending === 0);
  assert.deepEqual(errors[0], { code: 'invalid_input', message: 'refused', mutationID: 1 });
  assert.equal(s.state.template.selected, null);
  await s.close();
});

test('a 4404 close marks the session not found and does not retry', async () => {
  const server = new FakeServer(newDoc());
  server.closeWith = 4404;
  const s = await openSession('s_test', env(server));
  let notified = 0;
  s.on('notfound', () => { notified += 1; });
  await until(() => s.notFound);
  await tick(80);
  assert.equal(server.sockets.length, 1, 'no reconnect after not_found');
  assert.equal(s.status.kind, 'error');
  assert.ok(notified <= 1);
  await s.close();
});

test('a 4401 close renews the identity once, then reconnects', async () => {
  const server = new FakeServer(newDoc());
  server.closeWith = 4401;
  const routes = { 'GET /api/me': [401, { status: 401, title: 'Unauthorized' }],
    'POST /api/identity/guest': () => { delete server.closeWith; return [200, { userId: 'u1' }]; } };
  const s = await openSession('s_test', env(server, { routes }));
  await until(() => s.status.kind === 'saved' && s.state);
  assert.equal(server.sockets.length, 2);
  await s.close();
});

test('a link that goes silent is declared dead after a ping and reconnected', async () => {
  const server = new FakeServer(newDoc());
  const s = await openSession('s_test', env(server, { opts: { heartbeatMs: 30, deadAfterMs: 20 } }));
  await until(() => s.status.kind === 'saved' && s.state);
  server.deaf = true; // the network drops: the socket stays "open" but nothing gets through
  await s.mutate('ui.set', { values: { a: 1 } });
  await until(() => s.status.kind === 'offline');
  assert.equal(s.status.pending, 1);
  server.deaf = false;
  await until(() => s.status.kind === 'saved', { timeout: 3000 });
  assert.ok(server.sockets.length >= 2, 'a new socket replaced the silent one');
  assert.equal(server.doc.ui.a, 1);
  await s.close();
});
