// Optimistic predictors: what the server's named mutation handlers (core/mutations_content.py,
// core/mutations_workflow.py) write, for the mutations the UI uses. A predictor must write exactly
// what the handler writes for the paths it touches and throw where the handler refuses, so the
// displayed state equals the server's next document (timestamps apart, which the patch corrects).
// tests/unit/test_js_parity.py runs both on the same cases. A mutation without a predictor has no
// optimistic effect: its patch brings it.

import { FEATURES, FEATURE_IDS, SESSION_TRANSITIONS, STEP_TRANSITIONS, SUBSTEP_TRANSITIONS,
  STEP_IDS, stepDef, substepIds } from './catalogue.js';
import { cpLength, hasOwn, isObject, splitPointer } from './json.js';
import { Context, Refused, featureArg, flag, getArg, invalid, keyName, obj, reqText, stepArg, strList,
  substepArg, templateId, text } from './mutation.js';
import { evaluateRules, featureAvailability } from './rules.js';
import { deepLink, firstOpenSubstep, missingPrerequisites, nextStep, prerequisiteReason,
  stepCompletion } from './workflow.js';

export { Refused };

// workflow helpers (mutations_workflow.py) --------------------------------------------------------
function check(table, kind, current, target) {
  if (!table.has(current) || !table.has(target)) throw invalid(`unknown ${kind}`);
  if (!table.get(current).has(target)) throw new Refused('illegal_transition', `${kind}: cannot go from ${current} to ${target}`);
}

function setStatus(ctx, target) {
  const current = ctx.get('status');
  if (current === target) return;
  check(SESSION_TRANSITIONS, 'session status', current, target);
  ctx.set(['status'], target);
  if (target === 'paused') ctx.set(['pausedAt'], ctx.iso());
  else if (current === 'paused') ctx.set(['pausedAt'], null);
  if (target === 'completed') ctx.set(['completedAt'], ctx.iso());
}

function requireActive(ctx) {
  const status = ctx.get('status');
  if (status === 'expired' || status === 'completed') {
    throw new Refused('illegal_transition', `the session is ${status}; it can no longer be changed`);
  }
}

function activate(ctx) {
  requireActive(ctx);
  if (['draft', 'paused', 'failed'].includes(ctx.get('status'))) setStatus(ctx, 'in_progress');
}

function requirePrerequisites(ctx, step) {
  const missing = missingPrerequisites(ctx.doc, step);
  if (missing.length) throw new Refused('prerequisite_missing', prerequisiteReason(step, missing));
}

function setStepStatus(ctx, step, target) {
  const current = ctx.get('steps', step, 'status');
  if (current === target) return;
  check(STEP_TRANSITIONS, 'step status', current, target);
  ctx.set(['steps', step, 'status'], target);
  if (target === 'in_progress' && ctx.get('steps', step, 'startedAt') === null) ctx.set(['steps', step, 'startedAt'], ctx.iso());
}

function setSubstepStatus(ctx, step, sub, target) {
  const base = ['steps', step, 'substeps', sub];
  const current = ctx.get(...base, 'status');
  if (current === target) return;
  check(SUBSTEP_TRANSITIONS, 'substep status', current, target);
  ctx.set([...base, 'status'], target);
  if (target === 'in_progress' && ctx.get(...base, 'startedAt') === null) ctx.set([...base, 'startedAt'], ctx.iso());
  if (target === 'completed' || target === 'skipped') ctx.set([...base, 'completedAt'], ctx.iso());
  if (target !== 'error') ctx.set([...base, 'validationErrors'], []);
}

function touchStep(ctx, step) {
  ctx.set(['steps', step, 'completion'], stepCompletion(ctx.doc, step));
  ctx.set(['steps', step, 'lastModified'], ctx.iso());
}

const MAX_OPEN_INTERVAL_MS = 30 * 60 * 1000;
function closeOpenInterval(ctx, step) {
  const entered = ctx.get('steps', step, 'enteredAt');
  if (!entered) return;
  const at = Date.parse(entered);
  if (Number.isNaN(at)) throw invalid('bad timestamp');
  // Python: int(timedelta.total_seconds() * 1000), same float steps, same result.
  let elapsed = Math.trunc((((ctx.now.getTime() - at) * 1000) / 1e6) * 1000);
  elapsed = Math.max(0, Math.min(elapsed, MAX_OPEN_INTERVAL_MS));
  const spent = ctx.getOr(['steps', step, 'timeSpentMs'], 0);
  if (typeof spent !== 'number') throw invalid('timeSpentMs is not a number');
  ctx.set(['steps', step, 'timeSpentMs'], spent + elapsed);
  ctx.set(['steps', step, 'enteredAt'], null);
}

const HISTORY_LIMIT = 50;
function goTo(ctx, step, sub) {
  const previous = ctx.get('currentStep');
  if (previous !== step && previous !== null) closeOpenInterval(ctx, previous);
  ctx.set(['currentStep'], step);
  ctx.set(['currentSubstep'], sub);
  if (ctx.get('steps', step, 'enteredAt') === null) ctx.set(['steps', step, 'enteredAt'], ctx.iso());
  const history = ctx.getOr(['navigation', 'history'], []);
  if (!Array.isArray(history)) throw invalid('navigation.history is not a list');
  const entry = { step, substep: sub, at: ctx.iso() };
  ctx.set(['navigation', 'history'], [...history.slice(-(HISTORY_LIMIT - 1)), entry]);
  ctx.set(['navigation', 'lastDeepLink'], deepLink(ctx.get('id'), step, sub));
}

function completeStep(ctx, step) {
  for (const sub of substepIds(step)) {
    const status = ctx.get('steps', step, 'substeps', sub, 'status');
    if (status === 'error') throw new Refused('illegal_transition', `${stepDef(step).title}: fix the errors in ${sub} first`);
    if (status === 'pending' || status === 'in_progress') setSubstepStatus(ctx, step, sub, 'completed');
  }
  if (ctx.get('steps', step, 'status') === 'pending') setStepStatus(ctx, step, 'in_progress');
  setStepStatus(ctx, step, 'completed');
  ctx.set(['steps', step, 'completedAt'], ctx.iso());
  closeOpenInterval(ctx, step);
  touchStep(ctx, step);
  const done = new Set([...ctx.getOr(['completedSteps'], []), step]);
  ctx.set(['completedSteps'], STEP_IDS.filter((s) => done.has(s)));
  ctx.effect('step_duration');
  if (step === 'completed') {
    setStatus(ctx, 'completed');
    return;
  }
  if (ctx.get('currentStep') === step) {
    const nxt = nextStep(ctx.doc);
    if (nxt !== null) goTo(ctx, nxt, firstOpenSubstep(ctx.doc, nxt));
  }
}

function substepTarget(ctx, rawArgs) {
  const args = obj(rawArgs);
  const step = stepArg(args);
  const sub = substepArg(args, step);
  requirePrerequisites(ctx, step);
  activate(ctx);
  if (ctx.get('steps', step, 'status') === 'pending') setStepStatus(ctx, step, 'in_progress');
  return [step, sub, args];
}

// forms (mutations_content.py) ---------------------------------------------------------------------
const messages = (entry, key) => strList(entry, key, 20, 1000, []);

function writeField(ctx, form, name, entry) {
  keyName(name, 'a field name');
  const base = ['forms', form, 'fields', name];
  if (hasOwn(entry, 'value')) ctx.set([...base, 'value'], entry.value);
  else if (ctx.get(...base) === null) ctx.set([...base, 'value'], null);
  const defaults = { dirty: hasOwn(entry, 'value'), touched: false, valid: true };
  for (const [key, dflt] of Object.entries(defaults)) {
    const current = ctx.get(...base, key);
    ctx.set([...base, key], flag(entry, key, current === null ? dflt : current));
  }
  for (const key of ['errors', 'warnings']) {
    if (hasOwn(entry, key) || ctx.get(...base, key) === null) ctx.set([...base, key], messages(entry, key));
  }
}

function touchForm(ctx, form, args) {
  const meta = obj(getArg(args, 'metadata', {}), 'metadata');
  const version = ctx.get('forms', form, 'metadata', 'version');
  ctx.set(['forms', form, 'metadata', 'version'], (version || 0) + 1);
  ctx.set(['forms', form, 'metadata', 'lastModified'], ctx.iso());
  for (const key of ['userAgent', 'formSchema']) {
    if (hasOwn(meta, key)) {
      ctx.set(['forms', form, 'metadata', key], text(meta, key, { maxLen: 500, optional: true }));
    } else {
      const cur = ctx.getOr(['forms', form, 'metadata', key], 0);
      if (cur === 0 || cur === false) ctx.set(['forms', form, 'metadata', key], null); // Python: == 0
    }
  }
}

// the CV (mutations_content.py) -------------------------------------------------------------------
const MAX_CV_FIELDS = 200;

/** [tokens below /cv, value] of one {path, value} CV edit (null removes): _cv_field. */
function cvField(args) {
  const path = reqText(args, 'path', 1000);
  if (!hasOwn(args, 'value')) throw invalid("'value' is required (null removes the field)");
  let tokens;
  try {
    tokens = splitPointer(path);
  } catch (err) {
    throw invalid(err.message);
  }
  if (!tokens.length) throw invalid("'path' must point inside the CV; use cv.set for the whole CV");
  return [tokens, args.value];
}

function startCv(ctx) {
  requireActive(ctx);
  if (ctx.get('cv') === null) ctx.set(['cv'], {});
}

function writeCvField(ctx, tokens, value) {
  if (value === null) ctx.remove(['cv', ...tokens]);
  else ctx.set(['cv', ...tokens], value);
}

const entryError = (i, err) => (err instanceof Refused && err.code === 'invalid_input' ? invalid(`fields/${i}: ${err.message}`) : err);

// the predictors ---------------------------------------------------------------------------------
export const PREDICTORS = {
  'form.setField'(ctx, raw) {
    const args = obj(raw);
    const form = keyName(getArg(args, 'form'), 'the form id');
    const name = keyName(getArg(args, 'field'), 'the field name');
    requireActive(ctx);
    writeField(ctx, form, name, args);
    touchForm(ctx, form, args);
  },
  'form.save'(ctx, raw) {
    const args = obj(raw);
    const form = keyName(getArg(args, 'form'), 'the form id');
    const fields = obj(getArg(args, 'fields', {}), 'fields');
    if (Object.keys(fields).length > 500) throw invalid('a form may hold at most 500 fields');
    requireActive(ctx);
    for (const [name, entry] of Object.entries(fields)) writeField(ctx, form, name, obj(entry, `fields.${name}`));
    touchForm(ctx, form, args);
  },
  'ui.set'(ctx, raw) {
    for (const [key, value] of Object.entries(obj(getArg(obj(raw), 'values'), 'values'))) {
      keyName(key, 'a UI key');
      if (value === null) ctx.remove(['ui', key]);
      else ctx.set(['ui', key], value);
    }
  },
  'cv.setField'(ctx, raw) {
    const [tokens, value] = cvField(obj(raw));
    startCv(ctx);
    writeCvField(ctx, tokens, value);
  },
  'cv.setFields'(ctx, raw) {
    const fields = getArg(obj(raw), 'fields', null);
    if (!Array.isArray(fields)) throw invalid("'fields' must be a list of {path, value} entries");
    if (fields.length < 1 || fields.length > MAX_CV_FIELDS) throw invalid(`'fields' must hold 1 to ${MAX_CV_FIELDS} entries, not ${fields.length}`);
    const edits = fields.map((entry, i) => {
      try {
        return cvField(obj(entry, 'entry'));
      } catch (err) {
        throw entryError(i, err);
      }
    });
    startCv(ctx);
    edits.forEach(([tokens, value], i) => {
      try {
        writeCvField(ctx, tokens, value);
      } catch (err) {
        throw entryError(i, err);
      }
    });
  },
  'template.select'(ctx, raw) {
    const template = templateId(getArg(obj(raw), 'template', null));
    requireActive(ctx);
    ctx.set(['template', 'selected'], template);
  },
  'template.customize'(ctx, raw) {
    const args = obj(raw);
    requireActive(ctx);
    const template = templateId(getArg(args, 'template', ctx.get('template', 'selected')));
    const base = ['template', 'customizations', template];
    for (const group of ['colors', 'fonts']) {
      for (const [key, value] of Object.entries(obj(getArg(args, group, {}), group))) {
        keyName(key, `a ${group} key`);
        if (value === null) ctx.remove([...base, group, key]);
        else if (typeof value === 'string' && value.length > 0 && cpLength(value) <= 100) ctx.set([...base, group, key], value);
        else throw invalid(`${group}.${key} must be a string of 1 to 100 characters`);
      }
    }
    for (const [key, raw2] of Object.entries(obj(getArg(args, 'sectionOrder', {}), 'sectionOrder'))) {
      keyName(key, 'a sectionOrder key');
      if (raw2 === null) {
        ctx.remove([...base, 'sectionOrder', key]);
        continue;
      }
      const entry = obj(raw2, `sectionOrder.${key}`);
      const section = reqText(entry, 'section');
      const sortKey = reqText(entry, 'sortKey');
      ctx.set([...base, 'sectionOrder', key], { section, sortKey });
    }
    for (const [section, hidden] of Object.entries(obj(getArg(args, 'hiddenSections', {}), 'hiddenSections'))) {
      keyName(section, 'a section name');
      if (typeof hidden !== 'boolean') throw invalid(`hiddenSections.${section} must be true or false`);
      if (hidden) ctx.set([...base, 'hiddenSections', section], true);
      else ctx.remove([...base, 'hiddenSections', section]);
    }
  },
  'target.set'(ctx, raw) {
    const args = obj(raw);
    requireActive(ctx);
    const limits = { role: 200, jobDescription: 20000, instructions: 5000 };
    if (Object.keys(args).some((k) => !hasOwn(limits, k))) throw invalid('unknown target fields');
    for (const [key, limit] of Object.entries(limits)) {
      if (hasOwn(args, key)) ctx.set(['target', key], text(args, key, { maxLen: limit }));
    }
  },
  'feature.toggle'(ctx, raw) {
    const args = obj(raw);
    const fid = featureArg(args);
    const enabled = flag(args, 'enabled');
    requireActive(ctx);
    if (enabled === ctx.get('features', fid, 'enabled')) return;
    if (enabled) {
      const availability = featureAvailability(ctx.doc, fid);
      if (!availability.canEnable) throw new Refused('dependency_missing', availability.reasons.join('; '));
      ctx.set(['features', fid, 'progress'], 'configured');
    } else {
      const dependents = FEATURE_IDS.filter((o) => FEATURES.get(o).dependencies.includes(fid) && ctx.get('features', o, 'enabled'));
      if (dependents.length) throw new Refused('dependency_missing', `${fid} is needed by ${dependents.join(', ')}`);
      const required = evaluateRules(ctx.doc).required[fid];
      if (required && required.length) throw new Refused('rule_violation', required.join('; '));
      ctx.set(['features', fid, 'progress'], null);
    }
    ctx.set(['features', fid, 'enabled'], enabled);
  },
  'step.enter'(ctx, raw) {
    const args = obj(raw);
    const step = stepArg(args);
    const sub = substepArg(args, step, true);
    if (ctx.get('status') === 'expired') throw new Refused('illegal_transition', 'the session has expired');
    requirePrerequisites(ctx, step);
    if (ctx.get('status') !== 'completed') {
      activate(ctx);
      if (ctx.get('steps', step, 'status') === 'pending') {
        setStepStatus(ctx, step, 'in_progress');
        touchStep(ctx, step);
      }
    }
    goTo(ctx, step, sub || firstOpenSubstep(ctx.doc, step) || substepIds(step)[0]);
  },
  'substep.start'(ctx, raw) {
    const [step, sub] = substepTarget(ctx, raw);
    setSubstepStatus(ctx, step, sub, 'in_progress');
    if (ctx.get('currentStep') === step) ctx.set(['currentSubstep'], sub);
    touchStep(ctx, step);
  },
  'substep.complete'(ctx, raw) {
    const [step, sub, args] = substepTarget(ctx, raw);
    const data = getArg(args, 'data', null);
    if (data !== null) {
      for (const [key, value] of Object.entries(obj(data, 'data'))) {
        keyName(key, 'a data key');
        if (value === null) ctx.remove(['steps', step, 'substeps', sub, 'data', key]);
        else ctx.set(['steps', step, 'substeps', sub, 'data', key], value);
      }
    }
    setSubstepStatus(ctx, step, sub, 'completed');
    touchStep(ctx, step);
    const allDone = substepIds(step).every((s) => ['completed', 'skipped'].includes(ctx.get('steps', step, 'substeps', s, 'status')));
    if (ctx.get('steps', step, 'status') !== 'completed' && allDone) completeStep(ctx, step);
    else if (ctx.get('currentStep') === step) ctx.set(['currentSubstep'], firstOpenSubstep(ctx.doc, step) || sub);
  },
};

export const hasPredictor = (name) => hasOwn(PREDICTORS, name);

/**
 * Apply mutation `name` to `doc` (not modified) at time `now` (a Date). Returns the new document,
 * the same object when nothing changed or no predictor exists; throws Refused (or another Error)
 * where the server would refuse it. Like core.mutations.apply_mutation, a change also writes
 * lastActiveAt and bumps `version`.
 */
export function predict(doc, name, args, now = new Date()) {
  if (!hasPredictor(name) || !isObject(doc)) return doc;
  const ctx = new Context(doc, now);
  PREDICTORS[name](ctx, args);
  if (!ctx.changed) return doc;
  ctx.set(['lastActiveAt'], ctx.iso());
  const version = typeof doc.version === 'number' ? doc.version : 0;
  return { ...ctx.doc, version: version + 1 };
}
