// What the conditional rules say about each feature, computed in the browser from the session
// document and the served catalogue: a port of core/rules.py rule_context, evaluate_rules and
// feature_availability, with the same outputs and the same sentences, so the features page can
// explain a disabled switch before the server refuses the toggle. The condition evaluator itself
// is the sync library's (same semantics as rules.evaluate, fail closed); this module only wires
// the catalogue (GET /api/catalogue) and the document to it.
import { evaluateRule } from '../lib/cvsession.js';
import { overallProgress, stepCompletion } from './shell.js';

const ACTIONS = ['enable', 'disable', 'require', 'recommend'];
const CV_COUNTS = {
  'cv.skillCount': 'skills',
  'cv.languageCount': 'languages',
  'cv.certificateCount': 'certificates',
  'cv.workCount': 'work',
  'cv.educationCount': 'education',
};

// Own properties only: a document key such as "constructor" must not read Object.prototype.
const hasOwn = (obj, key) => obj !== null && typeof obj === 'object' && Object.prototype.hasOwnProperty.call(obj, key);
const dict = (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
const get = (obj, key, fallback = null) => (hasOwn(obj, key) ? obj[key] : fallback);

// Python's str.strip() whitespace (str.isspace), which differs from String.prototype.trim
// (e.g. U+001C-U+001F and U+0085 are blank in Python, U+FEFF is not).
const PY_SPACE = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;
const pyBlank = (s) => PY_SPACE.test(s);

// Python orders strings by code point; JS `<` by UTF-16 unit, which differs above U+FFFF.
function cpCompare(a, b) {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d < 0 ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

// The served catalogue may come with or without app.js's lookup maps; shell.js needs them.
const indexedCache = new WeakMap();
function indexed(catalogue) {
  if (catalogue.stepsById && catalogue.featuresById) return catalogue;
  let cat = indexedCache.get(catalogue);
  if (!cat) {
    cat = {
      ...catalogue,
      stepsById: Object.fromEntries(catalogue.steps.map((s) => [s.id, s])),
      featuresById: Object.fromEntries(catalogue.features.map((f) => [f.id, f])),
    };
    indexedCache.set(catalogue, cat);
  }
  return cat;
}
const featureIds = (cat) => cat.features.map((f) => f.id);
const featureDef = (cat, id) => get(cat.featuresById, id, null);
const stepDef = (cat, id) => get(cat.stepsById, id, null);

/** Every rule field (rules.RULE_FIELDS) computed from a session document (rules.rule_context). */
export function ruleContext(state, catalogue) {
  const cat = indexed(catalogue);
  const doc = dict(state);
  const target = dict(doc.target);
  const cv = dict(doc.cv);
  const basics = dict(cv.basics);
  const nonBlank = (v) => typeof v === 'string' && !pyBlank(v);
  const ctx = {
    status: get(doc, 'status'),
    currentStep: get(doc, 'currentStep'),
    completedSteps: Array.isArray(doc.completedSteps) ? [...doc.completedSteps] : [],
    quickCreate: doc.quickCreate === true,
    progress: overallProgress(cat, doc),
    'template.selected': get(dict(doc.template), 'selected'),
    'target.role': get(target, 'role', ''),
    'target.jobDescription': get(target, 'jobDescription', ''),
    'ui.sharePublic': dict(doc.ui).sharePublic === true,
    'cv.hasEmail': nonBlank(basics.email),
    'cv.hasPhone': nonBlank(basics.phone),
  };
  for (const [name, key] of Object.entries(CV_COUNTS)) {
    ctx[name] = Array.isArray(cv[key]) ? cv[key].length : 0;
  }
  const features = dict(doc.features);
  for (const fid of featureIds(cat)) {
    const rec = dict(get(features, fid));
    ctx[`features.${fid}.enabled`] = rec.enabled === true;
    ctx[`features.${fid}.progress`] = get(rec, 'progress');
  }
  const steps = dict(doc.steps);
  for (const step of cat.steps) {
    ctx[`steps.${step.id}.status`] = get(dict(get(steps, step.id)), 'status', 'pending');
    ctx[`steps.${step.id}.completion`] = stepCompletion(cat, doc, step.id);
  }
  return ctx;
}

/** Session rules ordered by (sortKey, id); a rule without a string sortKey sorts by its id. */
function sessionRules(doc) {
  const key = ([rid, r]) => (typeof r.sortKey === 'string' ? r.sortKey : rid);
  return Object.entries(dict(doc.rules))
    .filter(([, r]) => r !== null && typeof r === 'object' && !Array.isArray(r))
    .sort((x, y) => cpCompare(key(x), key(y)) || cpCompare(x[0], y[0]));
}

/**
 * The catalogue rules, then the session's, evaluated on the document (rules.evaluate_rules):
 * {enabled, disabled, required, recommended: {featureId: [reason]}, contradictions: [featureId]}.
 * `disable` wins: a disabled feature is dropped from the other three maps.
 */
export function ruleEffects(state, catalogue) {
  const cat = indexed(catalogue);
  const doc = dict(state);
  const ctx = ruleContext(doc, cat);
  const byAction = Object.fromEntries(ACTIONS.map((a) => [a, new Map()]));
  const fire = (action, target, reason) => {
    const reasons = byAction[action].get(target) || [];
    if (!reasons.includes(reason)) reasons.push(reason);
    byAction[action].set(target, reasons);
  };
  for (const rule of cat.rules || []) {
    if (evaluateRule(rule.when, ctx)) fire(rule.action, rule.target, rule.reason);
  }
  for (const [rid, r] of sessionRules(doc)) {
    // An invalid action or target is ignored rather than trusted (fail closed).
    if (!ACTIONS.includes(r.action) || typeof r.target !== 'string' || !featureDef(cat, r.target)) continue;
    if (evaluateRule(get(r, 'when'), ctx)) {
      const reason = typeof r.reason === 'string' && !pyBlank(r.reason) ? r.reason : `A rule set for this session (${rid}).`;
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
    contradictions: featureIds(cat).filter((f) => disabled.has(f) && byAction.require.has(f)),
  };
}

function stepDone(doc, stepId) {
  return dict(get(dict(doc.steps), stepId)).status === 'completed'
    || (Array.isArray(doc.completedSteps) && doc.completedSteps.includes(stepId));
}

/**
 * Whether `featureId` can be switched on (and off) now, and why (rules.feature_availability):
 * {canEnable, reasons, recommendedReasons, requiredReasons, canDisable, disableReasons}.
 * `reasons` lists unmet dependencies, then unfinished steps, then rules that disable it.
 * Pass `effects` (from ruleEffects) to avoid re-evaluating the rules once per feature.
 * Throws for a feature the catalogue does not know.
 */
export function featureAvailability(state, catalogue, featureId, effects = null) {
  const cat = indexed(catalogue);
  const feature = featureDef(cat, featureId);
  if (!feature) throw new Error(`unknown feature ${JSON.stringify(featureId)}`);
  const doc = dict(state);
  const features = dict(doc.features);
  const on = (fid) => dict(get(features, fid)).enabled === true;
  const reasons = [];
  for (const dep of feature.dependencies || []) {
    if (!on(dep)) reasons.push(`${feature.title} needs ${featureDef(cat, dep).title} to be enabled first.`);
  }
  for (const sid of feature.requiresSteps || []) {
    if (!stepDone(doc, sid)) reasons.push(`${feature.title} needs the ${stepDef(cat, sid).title} step to be completed first.`);
  }
  const fx = effects || ruleEffects(doc, cat);
  reasons.push(...get(fx.disabled, featureId, []));
  const required = [...get(fx.required, featureId, [])];
  const disableReasons = [...required];
  for (const other of cat.features) {
    if ((other.dependencies || []).includes(featureId) && on(other.id)) {
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
