// RFC 6902 application against the conformance suites in ../shared/testdata (relative to the
// repository root): json-patch-tests and leadpony's jsonp-test-suite.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyPatch } from '../../src/cvsession/web/lib/jsonpatch.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const load = (p) => JSON.parse(readFileSync(resolve(ROOT, '../shared/testdata', p), 'utf8'));

function check(name, doc, patch, expected, mustFail) {
  const before = structuredClone(doc);
  let out;
  let error;
  try {
    out = applyPatch(doc, patch);
  } catch (err) {
    error = err;
  }
  assert.deepEqual(doc, before, `${name}: the input was modified`);
  if (mustFail) assert.ok(error, `${name}: should fail`);
  else {
    assert.ok(!error, `${name}: ${error?.message}`);
    assert.deepEqual(out, expected, name);
  }
}

for (const file of ['json-patch/tests.json', 'json-patch/spec_tests.json']) {
  test(`json-patch-tests ${file}`, () => {
    let n = 0;
    for (const c of load(file)) {
      if (c.disabled) continue;
      if (!('expected' in c) && !c.error) continue; // no verdict to check
      check(c.comment ?? JSON.stringify(c.patch), c.doc, c.patch, c.expected, !('expected' in c));
      n += 1;
    }
    assert.ok(n > 10);
  });
}

test('leadpony json-patch, rfc6902 examples and malformed patches', () => {
  for (const file of ['jsonp-test-suite/json-patch.json', 'jsonp-test-suite/rfc6902-examples.json']) {
    for (const c of load(file)) {
      if (c.skip) continue;
      check(c.title, c.json, c.patch, c.result, !('result' in c));
    }
  }
  for (const c of load('jsonp-test-suite/json-patch-malformed.json')) check(c.title, c.json, c.patch, undefined, true);
});

test('leadpony pointer add/remove/replace (RFC semantics for the root pointer)', () => {
  const ops = { 'json-pointer-add.json': 'add', 'json-pointer-remove.json': 'remove', 'json-pointer-replace.json': 'replace' };
  for (const [file, op] of Object.entries(ops)) {
    for (const group of load('jsonp-test-suite/' + file)) {
      for (const t of group.tests) {
        if (t.pointer === '') continue; // JSON-P API behaviour, not RFC 6902 (see SOURCES.md)
        const patch = [{ op, path: t.pointer, ...(op === 'remove' ? {} : { value: t.value }) }];
        check(`${file} ${t.pointer}`, group.json, patch, t.result, !('result' in t));
      }
    }
  }
});

test('a patch applies entirely or not at all', () => {
  const doc = { a: 1, list: [1, 2] };
  assert.throws(() => applyPatch(doc, [{ op: 'replace', path: '/a', value: 2 }, { op: 'remove', path: '/nope' }]));
  assert.deepEqual(doc, { a: 1, list: [1, 2] });
  assert.throws(() => applyPatch(doc, [{ op: 'test', path: '/list/01', value: 2 }]));
});
