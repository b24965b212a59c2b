// The replica's algorithm (docs/protocol.md): rebase on patch, rollback of refused mutations,
// gaps, resets, and push frames within the limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Replica } from '../../src/cvsession/web/lib/replica.js';
import { newDoc } from './fakes.mjs';

const CID = 'g:s_test';
let hlcMs = Date.parse('2026-11-25T12:00:00.000Z');
const entry = (id, name, args, baseVersion = 0) => ({ sessionId: 's_test', id, name, args, baseVersion, hlc: `${hlcMs++}-0-${CID}` });
const field = (id, form, value) => entry(id, 'form.setField', { form, field: 'f', value });

function loaded(outbox = []) {
  const r = new Replica({ sessionId: 's_test', clientId: CID });
  r.load({ cookie: 0, confirmed: newDoc(), outbox });
  return r;
}

test('optimistic state = confirmed + outbox; a patch rebases the rest on the new confirmed doc', () => {
  const r = loaded([field(1, 'a', 'mine-1'), field(2, 'b', 'mine-2')]);
  assert.equal(r.state.forms.a.fields.f.value, 'mine-1');
  assert.equal(r.state.forms.b.fields.f.value, 'mine-2');
  assert.equal(r.confirmed.forms.a, undefined, 'the confirmed document is untouched');
  // The server applied #1 and someone else's title change.
  const events = r.receive({ type: 'patch', baseCookie: 0, cookie: 2, reset: false, lastMutationIDChanges: { [CID]: 1, other: 9 },
    ops: [{ op: 'add', path: '/forms/a', value: { fields: { f: { value: 'mine-1' } } } }, { op: 'replace', path: '/title', value: 'theirs' },
      { op: 'replace', path: '/version', value: 2 }] });
  assert.deepEqual(r.outbox.map((e) => e.id), [2]);
  assert.equal(r.cookie, 2);
  assert.equal(r.state.title, 'theirs');
  assert.equal(r.state.forms.b.fields.f.value, 'mine-2', 'the pending edit is re-applied on top');
  const persist = events.find((e) => e.type === 'persist');
  assert.equal(persist.cookie, 2);
  assert.equal(persist.upto, 1);
  assert.equal(persist.doc.title, 'theirs');
});

test('a refused mutation is dropped and its optimistic effect rolled back', () => {
  const r = loaded([entry(1, 'ui.set', { values: { panel: 'open' } }), entry(2, 'template.select', { template: 'modern' })]);
  assert.equal(r.state.template.selected, 'modern');
  const events = r.receive({ type: 'error', code: 'illegal_transition', message: 'no', retryable: false, mutationID: 2 });
  assert.ok(events.some((e) => e.type === 'refused' && e.entry.id === 2));
  assert.equal(r.state.template.selected, null, 'rolled back');
  assert.equal(r.state.ui.panel, 'open', 'the other pending edit stays');
  r.mergeOutbox([entry(2, 'template.select', { template: 'modern' })]); // a stale read of the shared outbox
  assert.deepEqual(r.outbox.map((e) => e.id), [1], 'a refused id does not come back');
});

test('an ack drops entries; the effect stays displayed until its patch (or the settle deadline)', () => {
  let now = 1000;
  const r = new Replica({ sessionId: 's_test', clientId: CID, clock: () => now });
  r.load({ cookie: 0, confirmed: newDoc(), outbox: [field(1, 'a', 'x')] });
  r.receive({ type: 'ack', lastMutationID: 0 }); // the hello's ack
  assert.equal(r.handshakeDone, true);
  r.receive({ type: 'ack', lastMutationID: 1 });
  assert.equal(r.outbox.length, 0);
  assert.equal(r.state.forms.a.fields.f.value, 'x', 'still shown while the patch is on its way');
  now += 5000;
  assert.equal(r.settle(), true);
  assert.equal(r.state.forms.a, undefined);
});

test('a patch from another cookie asks for a resync; a reset replaces the document', () => {
  const r = loaded([field(1, 'a', 'v')]);
  const ev = r.receive({ type: 'patch', baseCookie: 5, cookie: 6, reset: false, ops: [], lastMutationIDChanges: {} });
  assert.deepEqual(ev.map((e) => e.type), ['resync']);
  assert.equal(r.cookie, 0);
  const fresh = { ...newDoc(), title: 'from server', version: 9 };
  r.receive({ type: 'patch', baseCookie: 5, cookie: 9, reset: true, ops: [{ op: 'replace', path: '', value: fresh }], lastMutationIDChanges: {} });
  assert.equal(r.cookie, 9);
  assert.equal(r.confirmed.title, 'from server');
  assert.equal(r.state.forms.a.fields.f.value, 'v', 'pending entries survive a reset');
  const bad = r.receive({ type: 'patch', baseCookie: 9, cookie: 10, reset: false, ops: [{ op: 'remove', path: '/nope' }], lastMutationIDChanges: {} });
  assert.deepEqual(bad.map((e) => e.type), ['persist', 'resync']);
  assert.equal(r.cookie, null, 'a patch that does not apply forgets the copy');
});

test('mutation_gap resends from the expected id; push frames respect 500 mutations and 64 KiB', () => {
  const many = Array.from({ length: 1203 }, (_, i) => entry(i + 1, 'ui.set', { values: { k: i } }));
  const r = loaded(many);
  r.receive({ type: 'ack', lastMutationID: 0 });
  const frames = r.pushFrames();
  assert.equal(frames.length, 3);
  assert.deepEqual(frames.map((f) => JSON.parse(f).mutations.length), [500, 500, 203]);
  assert.equal(r.pushFrames().length, 0, 'nothing new to push');
  const ev = r.receive({ type: 'error', code: 'mutation_gap', message: 'gap', retryable: true, mutationID: 1203, expected: 1001, received: 1203 });
  assert.ok(ev.some((e) => e.type === 'resend'));
  const again = r.pushFrames();
  assert.equal(JSON.parse(again[0]).mutations[0].id, 1001);
  const big = loaded(Array.from({ length: 10 }, (_, i) => entry(i + 1, 'ui.set', { values: { blob: 'x'.repeat(20000) } })));
  const bigFrames = big.pushFrames();
  assert.ok(bigFrames.length >= 4);
  for (const f of bigFrames) assert.ok(new TextEncoder().encode(f).length <= 64 * 1024);
  assert.deepEqual(bigFrames.flatMap((f) => JSON.parse(f).mutations.map((m) => m.id)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.throws(() => big.checkSize('ui.set', { values: { blob: 'x'.repeat(70000) } }), RangeError);
});

test('hello carries the cookie and last acknowledged id; unknown message types are ignored', () => {
  const r = loaded();
  r.receive({ type: 'ack', lastMutationID: 7 });
  assert.deepEqual(r.hello('grp', 'laptop'), { type: 'hello', clientID: CID, clientGroupID: 'grp', cookie: 0, lastMutationID: 7, schemaVersion: 1, device: 'laptop' });
  assert.equal(r.hello('grp', '', 1700000000123).now, 1700000000123); // its clock, for offline ages
  assert.equal('now' in r.hello('grp', '', NaN), false);
  assert.deepEqual(r.receive({ type: 'constructor' }), []);
  assert.deepEqual(r.receive({ type: 'future-thing' }), []);
  const ev = r.receive({ type: 'patch', cookie: 'x' });
  assert.equal(ev[0].code, 'bad_server_message');
});
