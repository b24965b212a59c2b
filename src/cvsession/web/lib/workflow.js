// Progress and navigation formulas ported from core/progress.py and core/navigation.py: the
// predictors need them to write exactly what the server writes (completion, next step, links).

import { STEPS, STEP_IDS, isStep, stepDef, substepIds } from './catalogue.js';
import { isObject } from './json.js';

const DONE = new Set(['completed', 'skipped']);
const dict = (v) => (isObject(v) ? v : {});

function requireStep(id) {
  if (!isStep(id)) throw new Error(`unknown step ${JSON.stringify(id)}`);
  return id;
}

export function stepStatus(doc, stepId) {
  const status = dict(dict(doc.steps)[stepId]).status;
  return typeof status === 'string' ? status : 'pending';
}

export function substepStatus(doc, stepId, sub) {
  const status = dict(dict(dict(dict(doc.steps)[stepId]).substeps)[sub]).status;
  return typeof status === 'string' ? status : 'pending';
}

/**
 * 0-100: substeps completed or skipped, rounded down; 100 once the step is done (progress.py).
 * `subs` are the step's substep ids: the bundled catalogue's unless a served catalogue's are given.
 */
export function stepCompletion(doc, stepId, subs = substepIds(requireStep(stepId))) {
  const rec = dict(dict(doc.steps)[stepId]);
  if (DONE.has(rec.status)) return 100;
  const subsRec = rec.substeps;
  let done = 0;
  for (const sub of subs) {
    // progress.py reads srec.get("status", "pending") without checking the type.
    const srec = isObject(subsRec) ? subsRec[sub] : undefined;
    const status = isObject(srec) ? (Object.hasOwn(srec, 'status') ? srec.status : 'pending') : 'pending';
    if (DONE.has(status)) done += 1;
  }
  return Math.floor((100 * done) / subs.length);
}

/** The mean of the steps' completions, rounded down; `steps` ({id, substeps}) default to the bundled ones. */
export function overallProgress(doc, steps = STEPS) {
  let total = 0;
  for (const s of steps) total += stepCompletion(doc, s.id, s.substeps);
  return Math.floor(total / steps.length);
}

function satisfied(doc, stepId) {
  const status = stepStatus(doc, stepId);
  return status === 'completed' || (status === 'skipped' && stepDef(stepId).skippable);
}

export function missingPrerequisites(doc, stepId) {
  return stepDef(requireStep(stepId)).requires.filter((req) => !satisfied(doc, req));
}

export function prerequisiteReason(stepId, missing) {
  const title = stepDef(stepId).title;
  if (!missing.length) return `${title} is ready to start.`;
  const titles = missing.map((s) => stepDef(s).title);
  const joined = titles.length <= 1 ? titles.join('') : `${titles.slice(0, -1).join(', ')} and ${titles.at(-1)}`;
  return `${title} needs ${joined} to be completed first.`;
}

export function firstOpenSubstep(doc, stepId) {
  for (const sub of substepIds(requireStep(stepId))) {
    if (!DONE.has(substepStatus(doc, stepId, sub))) return sub;
  }
  return null;
}

export function nextStep(doc) {
  for (const sid of STEP_IDS) {
    if (!DONE.has(stepStatus(doc, sid)) && missingPrerequisites(doc, sid).length === 0) return sid;
  }
  return null;
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** "/session/{id}[/{step}[/{substep}]]" (navigation.deep_link without parameters). */
export function deepLink(sessionId, step = null, substep = null) {
  if (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId)) throw new Error('bad session id');
  let path = '/session/' + sessionId;
  if (step !== null) {
    requireStep(step);
    path += '/' + step;
    if (substep !== null) {
      if (!substepIds(step).includes(substep)) throw new Error('substep not of the step');
      path += '/' + substep;
    }
  } else if (substep !== null) {
    throw new Error('a substep needs its step');
  }
  return path;
}
