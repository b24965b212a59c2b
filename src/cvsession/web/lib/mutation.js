// The mutation context and argument readers of the predictors: a port of core/mutations.py's
// MutationContext (copy-on-write writes, no ops or conflicts: the server decides those) and of
// core/args.py's validators, throwing where the Python ones raise InvalidInput.

import { FEATURES, STEP_IDS, TEMPLATE_IDS, isStep, substepIds } from './catalogue.js';
import { cpLength, hasOwn, isDigits, isObject, jsonEqual, resolve } from './json.js';

/** A refusal the server would answer with this domain error code. */
export class Refused extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
export const invalid = (m) => new Refused('invalid_input', m);

// the mutation context (core/mutations.py MutationContext, minus ops and conflicts) ----------------
export class Context {
  constructor(doc, now) {
    this.doc = doc;
    this.now = now; // a Date
    this.changed = false; // a write or an effect happened: lastActiveAt and version move
    this.fresh = new WeakSet(); // containers this mutation copied: written in place after that
  }

  iso() {
    return this.now.toISOString(); // "2026-11-25T12:00:00.000Z", as core.document.iso
  }

  get(...tokens) {
    // ctx.get(*tokens, default=None)
    return this.getOr(tokens, null);
  }

  getOr(tokens, fallback) {
    let node = this.doc;
    for (const t of tokens) {
      if (isObject(node)) {
        if (!hasOwn(node, t)) return fallback;
        node = node[t];
      } else if (Array.isArray(node) && Number.isInteger(t) && t >= 0 && t < node.length) {
        node = node[t];
      } else {
        return fallback;
      }
    }
    return node;
  }

  set(tokens, value) {
    const raw = tokens.map(String);
    if (jsonEqual(resolve(this.doc, raw), value)) return false;
    this.write(raw, value);
    return true;
  }

  remove(tokens) {
    const raw = tokens.map(String);
    if (resolve(this.doc, raw) === undefined) return false;
    this.write(raw, undefined);
    return true;
  }

  effect() {
    this.changed = true;
  }

  /** Copy-on-write of `value` (undefined removes) at `tokens` (mutations._apply_write). */
  write(tokens, value) {
    if (!tokens.length) throw invalid('cannot replace the whole document');
    const own = (c) => {
      if (this.fresh.has(c)) return c;
      const copy = Array.isArray(c) ? [...c] : { ...c };
      this.fresh.add(copy);
      return copy;
    };
    const root = own(this.doc);
    let node = root;
    for (const token of tokens.slice(0, -1)) {
      let child = childOf(node, token);
      if (child === undefined) {
        child = {};
        this.fresh.add(child);
      } else if (child !== null && typeof child === 'object') {
        child = own(child);
      } else {
        throw invalid('cannot write below a scalar');
      }
      put(node, token, child);
      node = child;
    }
    const last = tokens.at(-1);
    if (value === undefined) {
      if (Array.isArray(node)) node.splice(Number(last), 1);
      else delete node[last];
    } else {
      put(node, last, structuredClone(value));
    }
    this.doc = root;
    this.changed = true;
  }
}

function childOf(node, token) {
  if (isObject(node)) return hasOwn(node, token) ? node[token] : undefined;
  if (Array.isArray(node)) return isDigits(token) && Number(token) < node.length ? node[Number(token)] : undefined;
  throw invalid('cannot address into a scalar');
}

function put(node, token, value) {
  if (Array.isArray(node)) {
    if (token !== '-' && !/^\s*[+-]?[0-9]+\s*$/.test(token)) throw invalid(`bad array index ${token}`); // Python int()
    const index = token === '-' ? node.length : Number(token);
    if (index === node.length) node.push(value);
    else if (index >= 0 && index < node.length) node[index] = value;
    else throw invalid(`array index ${token} out of range`);
  } else if (isObject(node)) {
    Object.defineProperty(node, token, { value, enumerable: true, writable: true, configurable: true }); // "__proto__" too
  }
}

// argument readers (core/args.py) -----------------------------------------------------------------
export const MAX_KEY = 128;
const MAX_TEXT = 10000;
export const obj = (v, name = 'args') => {
  if (!isObject(v)) throw invalid(`${name} must be an object`);
  return v;
};
export const getArg = (args, key, fallback) => (hasOwn(args, key) ? args[key] : fallback);
export function text(args, key, { maxLen = MAX_TEXT, optional = false, allowEmpty = true } = {}) {
  const v = getArg(args, key, null);
  if (v === null && optional) return null;
  if (typeof v !== 'string') throw invalid(`'${key}' must be a string`);
  if (cpLength(v) > maxLen) throw invalid(`'${key}' is too long`);
  if (v.includes('\u0000')) throw invalid(`'${key}' must not contain U+0000`);
  if (!allowEmpty && !v) throw invalid(`'${key}' must not be empty`);
  return v;
}
export const reqText = (args, key, maxLen = MAX_KEY) => text(args, key, { maxLen, allowEmpty: false });
export function flag(args, key, fallback) {
  const v = getArg(args, key, fallback);
  if (typeof v !== 'boolean') throw invalid(`'${key}' must be true or false`);
  return v;
}
export function strList(args, key, maxItems, maxLen, fallback) {
  const v = getArg(args, key, fallback);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(`'${key}' must be a list of strings`);
  if (v.length > maxItems || v.some((s) => cpLength(s) > maxLen)) throw invalid(`'${key}' has too many or too long entries`);
  return v;
}
export function keyName(v, what) {
  if (typeof v !== 'string' || !v || cpLength(v) > MAX_KEY) throw invalid(`${what} must be a non-empty string of at most ${MAX_KEY} characters`);
  return v;
}
export function stepArg(args) {
  const v = getArg(args, 'step', null);
  if (!isStep(v)) throw invalid(`'step' must be one of ${STEP_IDS.join(', ')}`);
  return v;
}
export function substepArg(args, step, optional = false) {
  const v = getArg(args, 'substep', null);
  if (v === null && optional) return null;
  if (typeof v !== 'string' || !substepIds(step).includes(v)) throw invalid(`'substep' is not a substep of ${step}`);
  return v;
}
export function templateId(v) {
  if (typeof v !== 'string' || !TEMPLATE_IDS.includes(v)) throw invalid(`'template' must be one of ${TEMPLATE_IDS.join(', ')}`);
  return v;
}

export function featureArg(args) {
  const fid = getArg(args, 'feature', null);
  if (typeof fid !== 'string' || !FEATURES.has(fid)) throw invalid("'feature' must be a catalogue feature id");
  return fid;
}
