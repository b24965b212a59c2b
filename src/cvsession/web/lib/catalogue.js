// The workflow catalogue as the predictors and the rule evaluator need it: a copy of the data in
// src/cvsession/core/catalogue.py and the transition tables of core/model.py. Kept as data, and
// checked equal to the Python side by tests/unit/test_js_parity.py, so the two cannot drift.

const step = (id, title, substeps, requires, estimatedMinutes, skippable = false) =>
  Object.freeze({ id, title, substeps: Object.freeze(substeps), requires: Object.freeze(requires),
    estimatedMinutes, skippable });

export const STEPS = Object.freeze([
  step('upload', 'Upload your CV', ['file-select', 'file-validate', 'file-upload'], [], 2),
  step('processing', 'Processing', ['text-extract', 'ai-analysis', 'structure-parse'], ['upload'], 3),
  step('analysis', 'Analysis', ['content-analyze', 'improvements-identify', 'keywords-extract'],
    ['upload', 'processing'], 5),
  step('features', 'Features', ['features-select', 'features-configure', 'features-validate'],
    ['analysis'], 4),
  step('templates', 'Templates', ['template-select', 'template-customize', 'template-preview'],
    ['analysis'], 3),
  step('preview', 'Preview', ['cv-generate', 'cv-review', 'cv-approve'],
    ['analysis', 'features', 'templates'], 5),
  step('results', 'Results', ['results-display', 'results-download', 'results-share'], ['preview'], 2),
  step('keywords', 'Keywords', ['keywords-review', 'keywords-optimize', 'keywords-apply'],
    ['analysis'], 4, true),
  step('completed', 'Completed', ['completion-confirm'], ['results'], 1),
]);
export const STEP_IDS = Object.freeze(STEPS.map((s) => s.id));
const STEPS_BY_ID = new Map(STEPS.map((s) => [s.id, s]));

const feature = (id, title, dependencies = [], requiresSteps = []) =>
  Object.freeze({ id, title, dependencies: Object.freeze(dependencies),
    requiresSteps: Object.freeze(requiresSteps) });
const A = ['analysis'];

export const FEATURE_LIST = Object.freeze([
  feature('ats-optimization', 'ATS optimisation', [], A),
  feature('keyword-enhancement', 'Keyword enhancement', ['ats-optimization'], A),
  feature('achievement-highlighting', 'Achievement highlighting', [], A),
  feature('skills-visualization', 'Skills visualisation', [], A),
  feature('generate-podcast', 'Career podcast', [], A),
  feature('privacy-mode', 'Privacy mode'),
  feature('embed-qr-code', 'QR code'),
  feature('interactive-timeline', 'Interactive timeline', [], A),
  feature('skills-chart', 'Skills chart', ['skills-visualization'], A),
  feature('video-introduction', 'Video introduction'),
  feature('portfolio-gallery', 'Portfolio gallery'),
  feature('testimonials-carousel', 'Testimonials'),
  feature('contact-form', 'Contact form'),
  feature('social-media-links', 'Social media links'),
  feature('availability-calendar', 'Availability calendar', ['contact-form']),
  feature('language-proficiency', 'Language proficiency', [], A),
  feature('certification-badges', 'Certification badges', [], A),
  feature('achievements-showcase', 'Achievements showcase', ['achievement-highlighting'], A),
]);
export const FEATURE_IDS = Object.freeze(FEATURE_LIST.map((f) => f.id));
// A Map, not an object: ids come from user input, and "constructor" must not be a feature.
export const FEATURES = new Map(FEATURE_LIST.map((f) => [f.id, f]));

export const TEMPLATE_IDS = Object.freeze(['modern', 'classic', 'creative']);

export const RULES = Object.freeze([
  { id: 'skills-chart-needs-skills', when: { '<': [{ var: 'cv.skillCount' }, 1] },
    action: 'disable', target: 'skills-visualization', reason: 'Your CV lists no skills to chart.' },
  { id: 'languages-recommended', when: { '>': [{ var: 'cv.languageCount' }, 0] },
    action: 'recommend', target: 'language-proficiency', reason: 'Your CV lists languages.' },
  { id: 'keywords-with-job-description', when: { '!=': [{ var: 'target.jobDescription' }, ''] },
    action: 'recommend', target: 'keyword-enhancement',
    reason: 'You gave a job description to match.' },
  { id: 'certificates-recommended', when: { '>': [{ var: 'cv.certificateCount' }, 0] },
    action: 'recommend', target: 'certification-badges', reason: 'Your CV lists certificates.' },
  { id: 'privacy-for-public-share', when: { '==': [{ var: 'ui.sharePublic' }, true] },
    action: 'require', target: 'privacy-mode',
    reason: 'A public share link hides personal details.' },
]);

const table = (spec) => new Map(Object.entries(spec).map(([k, v]) => [k, new Set(v.split(' ').filter(Boolean))]));
// Same to same is never a transition; callers treat it as a no-op before asking (model.py).
export const SESSION_TRANSITIONS = table({
  draft: 'in_progress processing paused failed expired',
  in_progress: 'processing paused completed failed expired',
  processing: 'in_progress paused failed completed expired',
  paused: 'in_progress processing expired',
  failed: 'in_progress expired',
  completed: 'expired',
  expired: '',
});
export const STEP_TRANSITIONS = table({
  pending: 'in_progress completed skipped',
  in_progress: 'completed skipped pending',
  completed: 'in_progress',
  skipped: 'in_progress pending',
});
export const SUBSTEP_TRANSITIONS = table({
  pending: 'in_progress completed skipped error',
  in_progress: 'completed skipped error pending',
  error: 'in_progress pending completed skipped',
  completed: 'in_progress',
  skipped: 'in_progress pending',
});

export const isStep = (id) => typeof id === 'string' && STEPS_BY_ID.has(id);
export function stepDef(id) {
  const found = STEPS_BY_ID.get(id);
  if (!found) throw new Error(`unknown step ${JSON.stringify(id)}`);
  return found;
}
export const substepIds = (id) => stepDef(id).substeps;
