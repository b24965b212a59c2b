// The analysis page's "Save to CV": its edits go as one cv.setFields (batched only past the
// mutation's limits), and the predictor applies such a batch whole or refuses it whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { saveBatches } from '../../src/cvsession/web/ui/pages/analysis.js';
import { predict } from '../../src/cvsession/web/lib/predict.js';

const edit = (i, value = `v${i}`) => ({ path: `/basics/k${i}`, value });

test('a save is one cv.setFields batch, in order, unless it passes 200 entries or the byte budget', () => {
  assert.deepEqual(saveBatches([]), []);
  const fifteen = Array.from({ length: 15 }, (_, i) => edit(i));
  assert.deepEqual(saveBatches(fifteen), [fifteen]);
  const many = Array.from({ length: 401 }, (_, i) => edit(i));
  assert.deepEqual(saveBatches(many).map((b) => b.length), [200, 200, 1]);
  assert.deepEqual(saveBatches(many).flat(), many);
  const big = [edit(0, 'x'.repeat(30_000)), edit(1, 'é'.repeat(15_000)), edit(2)]; // é: 2 bytes
  assert.deepEqual(saveBatches(big).map((b) => b.map((e) => e.path)), [['/basics/k0'], ['/basics/k1', '/basics/k2']]);
  assert.deepEqual(saveBatches([edit(0, 'x'.repeat(70_000))]).length, 1); // alone, still sent as is
});

test('the cv.setFields predictor applies every entry in one version or refuses them all', () => {
  const doc = { version: 4, status: 'in_progress', cv: { basics: { name: 'Ada', label: 'L' } } };
  const now = new Date('2026-11-25T12:00:00Z');
  const next = predict(doc, 'cv.setFields', { fields: [
    { path: '/basics/name', value: 'Ada Lovelace' }, { path: '/basics/label', value: null }, { path: '/skills', value: [{ name: 'maths' }] },
  ] }, now);
  assert.equal(next.version, 5);
  assert.deepEqual(next.cv, { basics: { name: 'Ada Lovelace' }, skills: [{ name: 'maths' }] });
  assert.throws(
    () => predict(doc, 'cv.setFields', { fields: [{ path: '/basics/name', value: 'X' }, { path: '/basics/name/first', value: 1 }] }, now),
    (err) => err.code === 'invalid_input' && err.message.startsWith('fields/1: '),
  );
  assert.throws(() => predict(doc, 'cv.setFields', { fields: Array.from({ length: 201 }, (_, i) => edit(i)) }, now), { code: 'invalid_input' });
  assert.deepEqual(doc.cv, { basics: { name: 'Ada', label: 'L' } }); // the input is never modified
});
