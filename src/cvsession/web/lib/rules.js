// Conditional rules: the same JSON-Logic-style evaluator as src/cvsession/core/rules.py (read its
// docstring: it is the normative description). Never eval; strict equality without coercion;
// any error anywhere makes the condition false (fail closed). Parity with Python is tested by
// tests/unit/test_js_parity.py, including hostile inputs.

import { FEATURES, FEATURE_IDS, RULES, STEP_IDS, stepDef } from './catalogue.js';
import { cpCompare, cpLength, escapeToken, hasOwn, isObject } from './json.js';
import { overallProgress, stepCompletion } from './workflow.js';

export const MAX_DEPTH = 16;
export const MAX_NODES = 256;
export const MAX_REASON = 500;
export const ACTIONS = Object.freeze(['enable', 'disable', 'require', 'recommend']);

// op -> [min args, max args or Infinity]. A Map: an operator named "constructor" or "__proto__"
// must be unknown, which a plain object's prototype would get wrong.
const ARITY = new Map([
  ['var', [1, 2]], ['==', [2, 2]], ['!=', [2, 2]], ['<', [2, 2]], ['<=', [2, 2]], ['>', [2, 2]],
  ['>=', [2, 2]], ['and', [1, Infinity]], ['or', [1, Infinity]], ['!', [1, 1]], ['!!', [1, 1]],
  ['in', [2, 2]], ['if', [3, Infinity]],
]);
const UNARY_SUGAR = new Set(['var', '!', '!!']);

const BASE_FIELDS = ['status', 'currentStep', 'completedSteps', 'quickCreate', 'progress',
  'template.selected', 'target.role', 'target.jobDescription', 'ui.sharePublic', 'cv.skillCount',
  'cv.languageCount', 'cv.certificateCount', 'cv.workCount', 'cv.educationCount', 'cv.hasEmail',
  'cv.hasPhone'];
export const RULE_FIELDS = new Set([
  ...BASE_FIELDS,
  ...FEATURE_IDS.flatMap((f) => [`features.${f}.enabled`, `features.${f}.progress`]),
  ...STEP_IDS.flatMap((s) => [`steps.${s}.status`, `steps.${s}.completion`]),
]);
const CV_COUNTS = { 'cv.skillCount': 'skills', 'cv.languageCount': 'languages',
  'cv.certificateCount': 'certificates', 'cv.workCount': 'work', 'cv.educationCount': 'education' };

const dict = (v) => (isObject(v) ? v : {});
const get = (obj, key, fallback) => (hasOwn(obj, key) ? obj[key] : fallback);
const nonBlank = (v) => typeof v === 'string' && v.trim() !== '';

/** Every RULE_FIELDS value computed from a session document (rules.rule_context). */
export function ruleContext(doc) {
  const target = dict(doc.target);
  const cv = dict(doc.cv);
  const basics = dict(cv.basics);
  const ctx = {
    status: get(doc, 'status', null),
    currentStep: get(doc, 'currentStep', null),
    completedSteps: Array.isArray(doc.completedSteps) ? [...doc.completedSteps] : [],
    quickCreate: doc.quickCreate === true,
    progress: overallProgress(doc),
    'template.selected': get(dict(doc.template), 'selected', null),
    'target.role': get(target, 'role', ''),
    'target.jobDescription': get(target, 'jobDescription', ''),
    'ui.sharePublic': dict(doc.ui).sharePublic === true,
    'cv.hasEmail': nonBlank(basics.email),
    'cv.hasPhone': nonBlank(basics.phone),
  };
  for (const [name, key] of Object.entries(CV_COUNTS)) ctx[name] = Array.isArray(cv[key]) ? cv[key].length : 0;
  const features = dict(doc.features);
  for (const fid of FEATURE_IDS) {
    const state = dict(features[fid]);
    ctx[`features.${fid}.enabled`] = state.enabled === true;
    ctx[`features.${fid}.progress`] = get(state, 'progress', null);
  }
  const steps = dict(doc.steps);
  for (const sid of STEP_IDS) {
    ctx[`steps.${sid}.status`] = get(dict(steps[sid]), 'status', 'pending');
    ctx[`steps.${sid}.completion`] = stepCompletion(doc, sid);
  }
  return ctx;
}

// helpers shared by validation and evaluation ---------------------------------------------------
const isScalar = (v) => v === null || typeof v === 'string' || typeof v === 'boolean'
  || (typeof v === 'number' && Number.isFinite(v));

function argsOf(op, raw) {
  if (Array.isArray(raw)) return raw;
  return UNARY_SUGAR.has(op) ? [raw] : null;
}

function arityOk(op, n) {
  const [low, high] = ARITY.get(op);
  return n >= low && n <= high && (op !== 'if' || n % 2 === 1);
}

/** The single [op, raw] of an operation node, or null when the node is not one. */
function operation(node) {
  if (!isObject(node)) return null;
  const keys = Object.keys(node);
  return keys.length === 1 ? [keys[0], node[keys[0]]] : null;
}

// validation ---------------------------------------------------------------------------------------
/**
 * Check a condition against the operator and field allow-lists and the limits.
 * Returns null when valid, else {path, message} naming the first bad node (rules.validate_condition).
 */
export function validateCondition(ast, path = '') {
  try {
    walk(ast, path, 1, { n: 0 });
    return null;
  } catch (err) {
    if (err instanceof Invalid) return { path: err.path, message: err.message };
    throw err;
  }
}

class Invalid extends Error {
  constructor(path, problem) {
    super(`invalid condition at ${path || '/'}: ${problem}`);
    this.path = path;
  }
}

function walk(node, path, depth, count) {
  count.n += 1;
  if (count.n > MAX_NODES) throw new Invalid(path, `a condition may have at most ${MAX_NODES} nodes`);
  if (depth > MAX_DEPTH) throw new Invalid(path, `a condition may be at most ${MAX_DEPTH} levels deep`);
  if (isScalar(node)) return;
  if (Array.isArray(node)) {
    node.forEach((item, i) => walk(item, `${path}/${i}`, depth + 1, count));
    return;
  }
  if (!isObject(node)) throw new Invalid(path, `${typeof node} is not a JSON literal or operation`);
  const found = operation(node);
  if (!found) throw new Invalid(path, 'an operation is an object with exactly one key, the operator');
  const [op, raw] = found;
  if (!ARITY.has(op)) throw new Invalid(path, `unknown operator ${JSON.stringify(op)}`);
  const opPath = `${path}/${escapeToken(op)}`;
  const args = argsOf(op, raw);
  if (args === null) throw new Invalid(opPath, `${op} takes a list of arguments`);
  if (!arityOk(op, args.length)) throw new Invalid(opPath, `${op}: wrong number of arguments (${args.length})`);
  const argPath = args !== raw ? opPath : null;
  if (op === 'var') {
    const namePath = argPath ?? `${opPath}/0`;
    if (typeof args[0] !== 'string') throw new Invalid(namePath, 'a field name must be a string literal');
    if (!RULE_FIELDS.has(args[0])) throw new Invalid(namePath, `unknown field ${JSON.stringify(args[0])}`);
    if (args.length === 2 && !isScalar(args[1])) {
      throw new Invalid(`${opPath}/1`, 'a default must be a string, number, boolean or null');
    }
    return;
  }
  args.forEach((arg, i) => walk(arg, argPath ?? `${opPath}/${i}`, depth + 1, count));
}

/** Check a session rule {when, action, target, reason, sortKey?}; null or {path, message}. */
export function validateRule(rule, path = '') {
  const bad = (p, m) => ({ path: p, message: `invalid rule at ${p || '/'}: ${m}` });
  if (!isObject(rule)) return bad(path, 'must be an object');
  for (const key of Object.keys(rule)) {
    if (!['when', 'action', 'target', 'reason', 'sortKey'].includes(key)) return bad(`${path}/${escapeToken(key)}`, 'unknown key');
  }
  for (const key of ['when', 'action', 'target', 'reason']) if (!hasOwn(rule, key)) return bad(path, `missing '${key}'`);
  const when = validateCondition(rule.when, `${path}/when`);
  if (when) return when;
  if (!ACTIONS.includes(rule.action)) return bad(`${path}/action`, `must be one of ${ACTIONS.join(', ')}`);
  if (typeof rule.target !== 'string' || !FEATURES.has(rule.target)) return bad(`${path}/target`, 'must be a catalogue feature id');
  if (typeof rule.reason !== 'string' || cpLength(rule.reason) > MAX_REASON) {
    return bad(`${path}/reason`, `must be a string of at most ${MAX_REASON} characters`);
  }
  if (hasOwn(rule, 'sortKey') && typeof rule.sortKey !== 'string') return bad(`${path}/sortKey`, 'must be a string');
  return null;
}

// evaluation ---------------------------------------------------------------------------------------
const FAIL = Symbol('fail');

/** JSON Logic truthiness: false, null, 0, "" and [] are false; everything else true. */
export function truthy(v) {
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return true;
  return Boolean(v);
}

/** JSON equality without coercion: booleans are not numbers (rules.strict_equal). */
export function strictEqual(a, b) {
  if (typeof a === 'boolean' || typeof b === 'boolean') return a === b;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => strictEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && strictEqual(a[k], b[k]));
  }
  if (a === null || b === null) return a === null && b === null;
  return typeof a === 'string' && typeof b === 'string' && a === b;
}

function compare(op, a, b) {
  let c;
  if (typeof a === 'number' && typeof b === 'number') c = a < b ? -1 : a > b ? 1 : 0;
  else if (typeof a === 'string' && typeof b === 'string') c = cpCompare(a, b); // Python order
  else throw FAIL;
  if (op === '<') return c < 0;
  if (op === '<=') return c <= 0;
  if (op === '>') return c > 0;
  return c >= 0;
}

const lookup = (ctx, name) => (ctx instanceof Map ? ctx.has(name) : hasOwn(ctx, name));
const read = (ctx, name) => (ctx instanceof Map ? ctx.get(name) : ctx[name]);

function ev(node, ctx, depth, count) {
  count.n += 1;
  if (count.n > MAX_NODES || depth > MAX_DEPTH) throw FAIL;
  if (node === null || typeof node === 'string' || typeof node === 'boolean') return node;
  if (typeof node === 'number') {
    if (!Number.isFinite(node)) throw FAIL;
    return node;
  }
  if (Array.isArray(node)) return node.map((item) => ev(item, ctx, depth + 1, count));
  const found = operation(node);
  if (!found || !ARITY.has(found[0])) throw FAIL;
  const [op, raw] = found;
  const args = argsOf(op, raw);
  if (args === null || !arityOk(op, args.length)) throw FAIL;
  const d = depth + 1;
  switch (op) {
    case 'var': {
      const name = args[0];
      if (typeof name !== 'string') throw FAIL;
      if (lookup(ctx, name)) return read(ctx, name);
      if (args.length === 2 && isScalar(args[1])) return args[1];
      throw FAIL;
    }
    case 'and': return args.every((a) => truthy(ev(a, ctx, d, count)));
    case 'or': return args.some((a) => truthy(ev(a, ctx, d, count)));
    case '!': return !truthy(ev(args[0], ctx, d, count));
    case '!!': return truthy(ev(args[0], ctx, d, count));
    case 'if': {
      for (let i = 0; i < args.length - 1; i += 2) {
        if (truthy(ev(args[i], ctx, d, count))) return ev(args[i + 1], ctx, d, count);
      }
      return ev(args.at(-1), ctx, d, count);
    }
    default: break;
  }
  const left = ev(args[0], ctx, d, count);
  const right = ev(args[1], ctx, d, count);
  if (op === '==') return strictEqual(left, right);
  if (op === '!=') return !strictEqual(left, right);
  if (op === 'in') {
    if (Array.isArray(right)) return right.some((x) => strictEqual(left, x));
    if (typeof right === 'string' && typeof left === 'string') return right.includes(left);
    throw FAIL;
  }
  return compare(op, left, right);
}

/** Whether the condition holds in `context` (an object or a Map); never throws: errors are false. */
export function evaluate(ast, context) {
  try {
    return truthy(ev(ast, context ?? {}, 1, { n: 0 }));
  } catch {
    return false; // fail closed, whatever went wrong (including a stack overflow)
  }
}

// rule effects -------------------------------------------------------------------------------------
/** Catalogue rules, then the session's rules by (sortKey, id): {enabled, disabled, required, recommended, contradictions}. */
export function evaluateRules(doc) {
  const ctx = ruleContext(doc);
  const byAction = Object.fromEntries(ACTIONS.map((a) => [a, new Map()]));
  const fire = (action, target, reason) => {
    const reasons = byAction[action].get(target) ?? [];
    if (!reasons.includes(reason)) reasons.push(reason);
    byAction[action].set(target, reasons);
  };
  for (const rule of RULES) if (evaluate(rule.when, ctx)) fire(rule.action, rule.target, rule.reason);
  const sortKey = ([rid, r]) => (typeof r.sortKey === 'string' ? r.sortKey : rid);
  const session = Object.entries(dict(doc.rules)).filter(([, r]) => isObject(r))
    .sort((x, y) => cpCompare(sortKey(x), sortKey(y)) || cpCompare(x[0], y[0]));
  for (const [rid, r] of session) {
    if (!ACTIONS.includes(r.action) || typeof r.target !== 'string' || !FEATURES.has(r.target)) continue;
    if (evaluate(hasOwn(r, 'when') ? r.when : null, ctx)) {
      const reason = typeof r.reason === 'string' && r.reason.trim() ? r.reason : `A rule set for this session (${rid}).`;
      fire(r.action, r.target, reason);
    }
  }
  const disabled = byAction.disable;
  const kept = (action) => Object.fromEntries([...byAction[action]].filter(([f]) => !disabled.has(f)));
  return {
    enabled: kept('enable'),
    disabled: Object.fromEntries(disabled),
    required: kept('require'),
    recommended: kept('recommend'),
    contradictions: FEATURE_IDS.filter((f) => disabled.has(f) && byAction.require.has(f)),
  };
}

function stepDone(doc, sid) {
  return dict(dict(doc.steps)[sid]).status === 'completed'
    || (Array.isArray(doc.completedSteps) && doc.completedSteps.includes(sid));
}

/** Whether a feature can be enabled or disabled now, and why (rules.feature_availability). */
export function featureAvailability(doc, featureId) {
  const feature = FEATURES.get(featureId);
  if (!feature) throw new Error(`unknown feature ${JSON.stringify(featureId)}`);
  const features = dict(doc.features);
  const reasons = [];
  for (const dep of feature.dependencies) {
    if (dict(features[dep]).enabled !== true) reasons.push(`${feature.title} needs ${FEATURES.get(dep).title} to be enabled first.`);
  }
  for (const sid of feature.requiresSteps) {
    if (!stepDone(doc, sid)) reasons.push(`${feature.title} needs the ${stepDef(sid).title} step to be completed first.`);
  }
  const effects = evaluateRules(doc);
  reasons.push(...(effects.disabled[featureId] ?? []));
  const required = [...(effects.required[featureId] ?? [])];
  const disableReasons = [...required];
  for (const other of FEATURE_IDS) {
    if (FEATURES.get(other).dependencies.includes(featureId) && dict(features[other]).enabled === true) {
      disableReasons.push(`${FEATURES.get(other).title} needs ${feature.title}; turn it off first.`);
    }
  }
  return {
    canEnable: reasons.length === 0,
    reasons,
    recommendedReasons: [...(effects.recommended[featureId] ?? [])],
    requiredReasons: required,
    canDisable: disableReasons.length === 0,
    disableReasons,
  };
}
