// Small JSON helpers shared by the predictors, the rule evaluator and the replica. They follow
// the Python core's semantics (not JavaScript's) where the two differ, so a prediction made in the
// browser equals what the server computes.

export const hasOwn = (obj, key) => obj !== null && typeof obj === 'object' && Object.prototype.hasOwnProperty.call(obj, key);
export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const isNumber = (v) => typeof v === 'number';

/** Length in code points, as Python's len(str) counts (JS .length counts UTF-16 units). */
export function cpLength(text) {
  let n = 0;
  for (const _ of text) n += 1; // eslint-disable-line no-unused-vars
  return n;
}

/** Compare two strings by code point, as Python does (JS `<` compares UTF-16 units). */
export function cpCompare(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0);
    const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** JSON equality: key order does not matter, true is not 1 (core.mutations._json_equal). */
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false; // scalars of different types or values (NaN never arrives in JSON)
}

/** Deep copy of a JSON value. */
export function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export function escapeToken(token) {
  return String(token).replaceAll('~', '~0').replaceAll('/', '~1');
}

export const pointer = (...tokens) => tokens.map((t) => '/' + escapeToken(t)).join('');

/** Split a JSON Pointer into unescaped tokens; throws unless it is "" or starts with "/". */
export function splitPointer(ptr) {
  if (ptr === '') return [];
  if (typeof ptr !== 'string' || !ptr.startsWith('/')) throw new Error(`JSON Pointer must start with '/': ${ptr}`);
  return ptr.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Python's str.isdigit() for the ASCII digits JSON Pointers use. */
export const isDigits = (token) => /^[0-9]+$/.test(token);

/** The value at unescaped `tokens` in `doc`, or `fallback` when absent (core.mutations.resolve). */
export function resolve(doc, tokens, fallback = undefined) {
  let node = doc;
  for (const token of tokens) {
    if (isObject(node) && hasOwn(node, token)) node = node[token];
    else if (Array.isArray(node) && isDigits(token) && Number(token) < node.length) node = node[Number(token)];
    else return fallback;
  }
  return node;
}

/** Strict JSON text (throws on NaN, Infinity, undefined, cycles), as the server demands. */
export function strictStringify(value) {
  const seen = new Set();
  const check = (v) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError('NaN and Infinity are not JSON');
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') {
      throw new TypeError(`${typeof v} is not JSON`);
    }
    if (v !== null && typeof v === 'object') {
      if (seen.has(v)) throw new TypeError('a cycle is not JSON');
      seen.add(v);
      for (const item of Array.isArray(v) ? v : Object.values(v)) check(item);
      seen.delete(v);
    }
  };
  check(value);
  return JSON.stringify(value);
}
