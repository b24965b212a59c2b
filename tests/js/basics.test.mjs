// HLC format, backoff bounds, the rule evaluator's fail-closed behaviour and the HTTP wrapper.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/cvsession/web/lib/backoff.js';
import { HybridClock, parseHlc } from '../../src/cvsession/web/lib/hlc.js';
import { ApiError, ensureIdentity, evaluateRule } from '../../src/cvsession/web/lib/cvsession.js';
import { createApi } from '../../src/cvsession/web/lib/http.js';
import { makeClientId } from '../../src/cvsession/web/lib/session.js';
import { fakeFetch } from './fakes.mjs';

test('HLC stamps are <ms>-<counter>-<clientID> and strictly increase when the wall clock steps back', () => {
  let wall = 1_000_000;
  const clock = new HybridClock('g1:s_1', null, () => wall);
  const a = clock.now();
  assert.match(a, /^1000000-0-g1:s_1$/);
  wall = 999_000; // the wall clock went back
  const b = clock.now();
  assert.equal(b, '1000000-1-g1:s_1');
  clock.observe(2_000_000);
  const c = clock.now();
  assert.equal(parseHlc(c).ms, 2_000_000);
  const order = [a, b, c].map(parseHlc).map((s) => [s.ms, s.counter]);
  for (let i = 1; i < order.length; i += 1) {
    assert.ok(order[i][0] > order[i - 1][0] || (order[i][0] === order[i - 1][0] && order[i][1] > order[i - 1][1]));
  }
  const resumed = new HybridClock('g1:s_1', c, () => 0); // restored after a restart, clock at 0
  assert.ok(parseHlc(resumed.now()).counter === parseHlc(c).counter + 1);
  assert.throws(() => parseHlc('12-x-c'));
});

test('backoff doubles from 0.25 s to 30 s with ±50 % jitter and resets', () => {
  const low = new Backoff({ random: () => 0 });
  const high = new Backoff({ random: () => 0.999999 });
  const lows = Array.from({ length: 12 }, () => low.next());
  const highs = Array.from({ length: 12 }, () => high.next());
  assert.equal(lows[0], 0.125);
  assert.ok(highs[0] < 0.375 && highs[0] > 0.374);
  assert.equal(lows[1], 0.25);
  assert.equal(lows.at(-1), 15); // 30 s base, -50 %
  assert.ok(highs.at(-1) < 45 && highs.at(-1) > 44.99);
  for (let i = 0; i < 200; i += 1) {
    const b = new Backoff();
    const d = b.next();
    assert.ok(d >= 0.125 && d <= 0.375);
  }
  low.reset();
  assert.equal(low.next(), 0.125);
  assert.throws(() => new Backoff({ jitter: 1 }));
});

test('rule evaluator: strict equality, JSON Logic truthiness, and any error fails closed', () => {
  const ctx = { 'cv.skillCount': 0, status: 'draft', completedSteps: ['upload'] };
  assert.equal(evaluateRule({ '<': [{ var: 'cv.skillCount' }, 1] }, ctx), true);
  assert.equal(evaluateRule({ '==': [true, 1] }, ctx), false);
  assert.equal(evaluateRule({ '==': [1, 1.0] }, ctx), true);
  assert.equal(evaluateRule({ in: ['upload', { var: 'completedSteps' }] }, ctx), true);
  assert.equal(evaluateRule({ var: 'missing' }, ctx), false); // no default: error, closed
  assert.equal(evaluateRule({ '!': { var: 'missing' } }, ctx), false); // not true: the error wins
  assert.equal(evaluateRule({ constructor: [1] }, ctx), false);
  assert.equal(evaluateRule({ var: 'toString' }, ctx), false);
  assert.equal(evaluateRule({ var: ['toString', 1] }, ctx), true); // default used, not the prototype
  assert.equal(evaluateRule({ '<': [1, '2'] }, ctx), false);
  assert.equal(evaluateRule({ '<': ['\uffff', '\u{1F600}'] }, ctx), true); // code point order, as Python
  assert.equal(evaluateRule([], ctx), false);
  assert.equal(evaluateRule([0], ctx), true);
  assert.equal(evaluateRule({ or: [true, { bogus: 1 }] }, ctx), true); // short-circuit
  assert.equal(evaluateRule({ or: [false, { bogus: 1 }] }, ctx), false);
  let deep = true;
  for (let i = 0; i < 16; i += 1) deep = { '!!': [deep] };
  assert.equal(evaluateRule(deep, ctx), false); // 17 levels
  assert.equal(evaluateRule({ and: Array(300).fill(true) }, ctx), false); // > 256 nodes
  assert.equal(evaluateRule({ '==': [Number.NaN, Number.NaN] }, ctx), false);
});

test('api throws ApiError from problem+json, status 0 on a network failure', async () => {
  const f = fakeFetch({ 'GET /api/x': [409, { type: '/problems/conflict', title: 'Conflict', status: 409, detail: 'stale', code: 'version_conflict' }],
    'POST /api/y': (url, init) => [201, { echo: JSON.parse(init.body), url }] });
  const api = createApi(f);
  await assert.rejects(api.get('/api/x'), (err) => err instanceof ApiError && err.status === 409
    && err.type === '/problems/conflict' && err.title === 'Conflict' && err.detail === 'stale' && err.body.code === 'version_conflict');
  assert.deepEqual((await api.post('/api/y', { a: 1 })).echo, { a: 1 });
  assert.equal(f.calls[1].init.credentials, 'include');
  const offline = createApi(async () => { throw new TypeError('Failed to fetch'); });
  await assert.rejects(offline.get('/api/me'), (err) => err instanceof ApiError && err.status === 0);
  const up = createApi(fakeFetch({ 'POST /api/sessions/s/uploads': (url, init) => [201, { url, type: init.headers['Content-Type'] }] }));
  const res = await up.upload('/api/sessions/s/uploads', new Blob(['%PDF']), 'my cv.pdf');
  assert.equal(res.url, '/api/sessions/s/uploads?filename=my%20cv.pdf');
  assert.equal(res.type, 'application/octet-stream');
});

test('ensureIdentity falls back to a guest identity on 401', async () => {
  const f = fakeFetch({ 'GET /api/me': [401, { title: 'Unauthorized', status: 401 }], 'POST /api/identity/guest': [200, { userId: 'u_9' }] });
  assert.deepEqual(await ensureIdentity(f), { userId: 'u_9' });
  assert.deepEqual(f.calls.map((c) => `${c.init.method} ${c.url}`), ['GET /api/me', 'POST /api/identity/guest']);
  const known = fakeFetch({ 'GET /api/me': [200, { userId: 'u_1', via: 'cookie' }] });
  assert.deepEqual(await ensureIdentity(known), { userId: 'u_1' });
  assert.equal(known.calls.length, 1);
});

test('clientID is <group>:<session> within 64 characters of the protocol alphabet', () => {
  assert.equal(makeClientId('0123456789abcdef012345', 's_' + 'a'.repeat(32)), '0123456789abcdef012345:s_' + 'a'.repeat(32));
  const long = makeClientId('0123456789abcdef012345', 'x'.repeat(64));
  assert.match(long, /^[A-Za-z0-9_.:-]{1,64}$/);
  assert.notEqual(long, makeClientId('0123456789abcdef012345', 'y'.repeat(64)));
});
