// Conditional rules: the same JSON-Logic-style evaluator as src/cvsession/core/rules.py (read its
// docstring: it is the normative description). Never eval; strict equality without coercion;
// any error anywhere makes the condition false (fail closed). Parity with Python is tested by
// tests/unit/test_js_parity.py, including hostile inputs, and by tests/js/rules.test.mjs.
//
// ruleContext, evaluateRules and featureAvailability read the workflow catalogue (steps, features,
// rules): the bundled copy (catalogue.js) unless another is passed, such as the one the web app got
// from GET /api/catalogue, so the features page explains a switch with the server's catalogue.

import { FEATURES, FEATURE_IDS, FEATURE_LIST, RULES, STEPS, STEP_IDS } from './catalogue.js';
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
// Own properties only: a document key such as "constructor" must not read Object.prototype.
const get = (obj, key, fallback) => (hasOwn(obj, key) ? obj[key] : fallback);
// Python's str.strip() whitespace (str.isspace), which differs from String.prototype.trim
// (U+001C-U+001F and U+0085 are blank in Python, U+FEFF is not).
const PY_BLANK = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;
const nonBlank = (v) => typeof v === 'string' && !PY_BLANK.test(v);

/**
 * The bundled catalogue in the shape GET /api/catalogue serves it: {steps, features, rules}.
 * A catalogue passed instead needs steps {id, title, substeps}, features {id, title,
 * dependencies?, requiresSteps?} and rules {when, action, target, reason}; extra fields (such
 * as the web app's stepsById) are ignored. It is read, never changed, and must not change.
 */
export const CATALOGUE = Object.freeze({ steps: STEPS, features: FEATURE_LIST, rules: RULES });

const indexes = new WeakMap();
/** Lookup maps of a catalogue, built once per catalogue object (Maps: ids come from documents). */
function index(catalogue) {
  let ix = indexes.get(catalogue);
  if (!ix) {
    ix = {
      steps: catalogue.steps,
      stepsById: new Map(catalogue.steps.map((s) => [s.id, s])),
      features: catalogue.features,
      featureIds: catalogue.features.map((f) => f.id),
      featuresById: new Map(catalogue.features.map((f) => [f.id, f])),
      rules: catalogue.rules ?? [],
    };
    indexes.set(catalogue, ix);
  }
  return ix;
}

/** Every RULE_FIELDS value computed from a session document (rules.rule_context). */
export function ruleContext(doc, catalogue = CATALOGUE) {
  const cat = index(catalogue);
  const d = dict(doc);
  const target = dict(d.target);
  const cv = dict(d.cv);
  const basics = dict(cv.basics);
  const ctx = {
    status: get(d, 'status', null),
    currentStep: get(d, 'currentStep', null),
    completedSteps: Array.isArray(d.completedSteps) ? [...d.completedSteps] : [],
    quickCreate: d.quickCreate === true,
    progress: overallProgress(d, cat.steps),
    'template.selected': get(dict(d.template), 'selected', null),
    'target.role': get(target, 'role', ''),
    'target.jobDescription': get(target, 'jobDescription', ''),
    'ui.sharePublic': dict(d.ui).sharePublic === true,
    'cv.hasEmail': nonBlank(basics.email),
    'cv.hasPhone': nonBlank(basics.phone),
  };
  for (const [name, key] of Object.entries(CV_COUNTS)) ctx[name] = Array.isArray(cv[key]) ? cv[key].length : 0;
  const features = dict(d.features);
  for (const fid of cat.featureIds) {
    const state = dict(get(features, fid));
    ctx[`features.${fid}.enabled`] = state.enabled === true;
    ctx[`features.${fid}.progress`] = get(state, 'progress', null);
  }
  const steps = dict(d.steps);
  for (const step of cat.steps) {
    ctx[`steps.${step.id}.status`] = get(dict(get(steps, step.id)), 'status', 'pending');
    ctx[`steps.${step.id}.completion`] = stepCompletion(d, step.id, step.substeps);
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
/**
 * The catalogue's rules, then the session's by (sortKey, id), evaluated on the document
 * (rules.evaluate_rules): {enabled, disabled, required, recommended: {featureId: [reason]},
 * contradictions: [featureId]}. `disable` wins: a disabled feature is dropped from the other three.
 * A session rule with an invalid action or target is ignored (fail closed).
 */
export function evaluateRules(doc, catalogue = CATALOGUE) {
  const cat = index(catalogue);
  const d = dict(doc);
  const ctx = ruleContext(d, catalogue);
  const byAction = Object.fromEntries(ACTIONS.map((a) => [a, new Map()]));
  const fire = (action, target, reason) => {
    const reasons = byAction[action].get(target) ?? [];
    if (!reasons.includes(reason)) reasons.push(reason);
    byAction[action].set(target, reasons);
  };
  for (const rule of cat.rules) if (evaluate(rule.when, ctx)) fire(rule.action, rule.target, rule.reason);
  const sortKey = ([rid, r]) => (typeof r.sortKey === 'string' ? r.sortKey : rid);
  const session = Object.entries(dict(d.rules)).filter(([, r]) => isObject(r))
    .sort((x, y) => cpCompare(sortKey(x), sortKey(y)) || cpCompare(x[0], y[0]));
  for (const [rid, r] of session) {
    if (!ACTIONS.includes(r.action) || typeof r.target !== 'string' || !cat.featuresById.has(r.target)) continue;
    if (evaluate(get(r, 'when', null), ctx)) {
      const reason = nonBlank(r.reason) ? r.reason : `A rule set for this session (${rid}).`;
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
    contradictions: cat.featureIds.filter((f) => disabled.has(f) && byAction.require.has(f)),
  };
}

/**
 * Whether `featureId` can be switched on (and off) now, and why (rules.feature_availability):
 * {canEnable, reasons, recommendedReasons, requiredReasons, canDisable, disableReasons}.
 * `reasons` lists unmet dependencies, then unfinished steps, then rules that disable it.
 * Pass `effects` (evaluateRules of the same document and catalogue) to avoid evaluating the rules
 * again for each feature. Throws for a feature the catalogue does not know.
 */
export function featureAvailability(doc, featureId, catalogue = CATALOGUE, effects = null) {
  const cat = index(catalogue);
  const feature = cat.featuresById.get(featureId);
  if (!feature) throw new Error(`unknown feature ${JSON.stringify(featureId)}`);
  const d = dict(doc);
  const features = dict(d.features);
  const on = (fid) => dict(get(features, fid)).enabled === true;
  const stepDone = (sid) => dict(get(dict(d.steps), sid)).status === 'completed'
    || (Array.isArray(d.completedSteps) && d.completedSteps.includes(sid));
  const reasons = [];
  for (const dep of feature.dependencies ?? []) {
    if (!on(dep)) reasons.push(`${feature.title} needs ${cat.featuresById.get(dep).title} to be enabled first.`);
  }
  for (const sid of feature.requiresSteps ?? []) {
    if (!stepDone(sid)) reasons.push(`${feature.title} needs the ${cat.stepsById.get(sid).title} step to be completed first.`);
  }
  const fx = effects ?? evaluateRules(d, catalogue);
  reasons.push(...get(fx.disabled, featureId, []));
  const required = [...get(fx.required, featureId, [])];
  const disableReasons = [...required];
  for (const other of cat.features) {
    if ((other.dependencies ?? []).includes(featureId) && on(other.id)) {
      disableReasons.push(`${other.title} needs ${feature.title}; turn it off first.`);
    }
  }
  return {
    canEnable: reasons.length === 0,
    reasons,
    recommendedReasons: [...get(fx.recommended, featureId, [])],
    requiredReasons: required,
    canDisable: disableReasons.length === 0,
    disableReasons,
  };
}
