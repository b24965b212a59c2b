// Step 3: the parsed CV as editable forms (auto-saved field by field), improvement suggestions
// to accept or reject, and the keywords found. "Save to CV" writes the edited fields into the CV.
import { h, replace, button, dig } from '../dom.js';
import { boundField, validators, fieldValue, fieldState } from '../forms.js';
import { substepSections, completeAndGo } from '../steps.js';

const FORM = 'cv';
const BASICS = [
  ['basics.name', 'Full name', { required: true, autocomplete: 'name' }],
  ['basics.label', 'Headline', {}],
  ['basics.email', 'Email', { type: 'email', rules: [validators.email], autocomplete: 'email' }],
  ['basics.phone', 'Phone', { type: 'tel', rules: [validators.phone], autocomplete: 'tel' }],
  ['basics.url', 'Website', { type: 'url', rules: [validators.url] }],
  ['basics.location.city', 'City', {}],
  ['basics.summary', 'Summary', { rows: 4, rules: [validators.maxLength(2000)] }],
];
const WORK = [['name', 'Company'], ['position', 'Position'], ['startDate', 'Start (YYYY-MM)', { rules: [validators.date] }], ['endDate', 'End (YYYY-MM)', { rules: [validators.date] }], ['summary', 'What you did', { rows: 3 }]];
const EDUCATION = [['institution', 'Institution'], ['area', 'Subject'], ['studyType', 'Degree'], ['startDate', 'Start (YYYY-MM)', { rules: [validators.date] }], ['endDate', 'End (YYYY-MM)', { rules: [validators.date] }]];

function cvValue(cv, name) {
  return name.split('.').reduce((node, key) => (node && typeof node === 'object' ? node[/^\d+$/.test(key) && Array.isArray(node) ? Number(key) : key] : undefined), cv);
}

function pointer(name) {
  return `/${name.split('.').map((t) => t.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

function skillsText(cv) {
  return (Array.isArray(cv?.skills) ? cv.skills : []).map((s) => (typeof s === 'string' ? s : s?.name)).filter(Boolean).join(', ');
}

// cv.setFields takes at most 200 entries, and a mutation must fit one push frame (64 KiB).
const SAVE_MAX_FIELDS = 200;
const SAVE_MAX_BYTES = 48 * 1024; // the entries' JSON; the rest of the frame is the envelope

/** `edits` ({path, value} entries) as the cv.setFields batches to send, in order: one unless
 * they exceed a batch's entries or bytes. An entry above the byte budget gets a batch of its own
 * (sent if it fits a push frame, refused by the session handle if not, as a cv.setField would). */
export function saveBatches(edits, maxFields = SAVE_MAX_FIELDS, maxBytes = SAVE_MAX_BYTES) {
  const encoder = new TextEncoder();
  const batches = [];
  let batch = [];
  let size = 0;
  for (const edit of edits) {
    const bytes = encoder.encode(JSON.stringify(edit)).length + 1;
    if (batch.length && (batch.length >= maxFields || size + bytes > maxBytes)) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(edit);
    size += bytes;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

export function mount(ctx) {
  const { session, api } = ctx;
  const cv = () => session.state.cv || {};
  const fields = [];
  const add = (name, label, opts = {}) => {
    const f = boundField(session, FORM, name, { label, initial: cvValue(cv(), name) ?? '', ...opts });
    fields.push({ name, f });
    return f.el;
  };
  const work = (Array.isArray(cv().work) ? cv().work : []).slice(0, 20);
  const education = (Array.isArray(cv().education) ? cv().education : []).slice(0, 10);
  const skills = boundField(session, FORM, 'skills', { label: 'Skills (comma-separated)', rows: 2, initial: skillsText(cv()) });

  const editor = h('div', { class: 'stack' },
    h('fieldset', {}, h('legend', {}, 'About you'), BASICS.map(([n, l, o]) => add(n, l, o))),
    work.map((job, i) => h('fieldset', { dataset: { entry: `work.${i}` } }, h('legend', {}, `Experience ${i + 1}${job?.name ? `: ${job.name}` : ''}`), WORK.map(([k, l, o]) => add(`work.${i}.${k}`, l, o || {})))),
    education.map((ed, i) => h('fieldset', {}, h('legend', {}, `Education ${i + 1}${ed?.institution ? `: ${ed.institution}` : ''}`), EDUCATION.map(([k, l, o]) => add(`education.${i}.${k}`, l, o || {})))),
    h('fieldset', {}, h('legend', {}, 'Skills'), skills.el));
  const saveButton = button('Save to CV', () => applyToCv(), { class: 'primary' });
  const saved = h('span', { class: 'muted', role: 'status' });

  // Write every field whose value differs from the CV into the CV with one cv.setFields: one
  // version and one log entry, applied or refused whole, so an interrupted save never leaves the
  // CV half-written. (Only a save above one push frame, far beyond what a CV's edits come to, is
  // split, into batches that are each applied whole.)
  async function applyToCv() {
    await session.flush();
    const state = session.state;
    const edits = [];
    for (const { name } of fields) {
      const entry = fieldState(state, FORM, name);
      if (!entry || !entry.dirty) continue;
      const value = fieldValue(session, state, FORM, name, '');
      const before = cvValue(state.cv || {}, name);
      if ((before ?? '') === value) continue;
      edits.push({ path: pointer(name), value: value === '' && before === undefined ? null : value });
    }
    const skillEntry = fieldState(state, FORM, 'skills');
    if (skillEntry?.dirty) {
      const names = String(fieldValue(session, state, FORM, 'skills', '')).split(',').map((s) => s.trim()).filter(Boolean).slice(0, 200);
      if (names.join(', ') !== skillsText(state.cv)) {
        const old = Object.fromEntries((Array.isArray(state.cv?.skills) ? state.cv.skills : []).filter((s) => s?.name).map((s) => [s.name, s]));
        edits.push({ path: '/skills', value: names.map((n) => old[n] || { name: n }) });
      }
    }
    for (const batch of saveBatches(edits)) await ctx.mutate('cv.setFields', { fields: batch });
    await ctx.mutate('substep.complete', { step: 'analysis', substep: 'content-analyze' });
    const changed = edits.length;
    saved.textContent = changed ? `Saved ${changed} change${changed === 1 ? '' : 's'} to your CV.` : 'Your CV already holds these values.';
    return changed;
  }

  // Suggestions: from the analysis checkpoint, refreshed from the server when online.
  const suggestionsBox = h('ul', { class: 'suggestions' });
  const keywordsBox = h('div', { class: 'keywords-found' });
  let analysis = dig(session.state, 'processing', 'checkpoints', 'analyse', 'partialResult') || null;
  async function refresh() {
    try {
      analysis = await api.get(`/api/sessions/${session.id}/analysis`);
      update(session.state);
    } catch { /* offline: keep the checkpoint's analysis */ }
  }
  function decide(id, decision, path) {
    ctx.mutate('substep.setData', { step: 'analysis', substep: 'improvements-identify', data: { [`suggestion-${id}`]: decision } });
    if (decision === 'accepted' && path) {
      const name = path.slice(1).split('/').join('.');
      const target = fields.find((f) => f.name === name || f.name.startsWith(`${name}.`));
      if (target) target.f.input.focus();
      else if (name === 'skills') skills.input.focus();
    }
  }

  const page = substepSections(ctx, null, {
    'content-analyze': h('div', { class: 'stack' }, cv() && Object.keys(cv()).length ? null : h('p', { class: 'muted' }, 'No parsed CV yet: fill the fields in yourself, or process an upload first.'), editor, h('div', { class: 'actions' }, saveButton, saved)),
    'improvements-identify': suggestionsBox,
    'keywords-extract': h('div', { class: 'stack' }, keywordsBox,
      h('div', { class: 'actions' }, button('Save and continue to features', async () => {
        await applyToCv();
        await ctx.mutate('substep.complete', { step: 'analysis', substep: 'improvements-identify' });
        await completeAndGo(ctx, 'features');
      }, { class: 'primary' }))),
  });
  refresh();

  function update(state) {
    page.updateStatuses(state);
    for (const { f } of fields) f.update(state);
    skills.update(state);
    const decisions = dig(state, 'steps', 'analysis', 'substeps', 'improvements-identify', 'data') || {};
    const suggestions = analysis?.suggestions || [];
    replace(suggestionsBox, suggestions.length ? suggestions.map((s) => {
      const decision = decisions[`suggestion-${s.id}`];
      return h('li', { class: `suggestion severity-${s.severity}${decision ? ` is-${decision}` : ''}`, dataset: { suggestion: s.id } },
        h('span', { class: 'tag' }, s.severity), ' ', s.message, ' ',
        decision ? h('span', { class: 'muted' }, decision === 'accepted' ? '(accepted)' : '(dismissed)') : null,
        h('span', { class: 'actions inline' },
          button('Accept', () => decide(s.id, 'accepted', s.path), { 'aria-label': `Accept: ${s.message}` }),
          button('Reject', () => decide(s.id, 'rejected'), { 'aria-label': `Reject: ${s.message}` })));
    }) : h('li', { class: 'muted' }, analysis ? 'No suggestions: your CV covers the basics.' : 'Suggestions appear once your CV is analysed.'));
    const ats = analysis?.ats;
    replace(keywordsBox, ats && ats.keywords?.length
      ? [h('p', {}, `Keyword match for your target: ${ats.score}%`),
        h('p', {}, 'Found: ', ats.matched.length ? ats.matched.join(', ') : 'none'),
        h('p', {}, 'Missing: ', ats.missing.length ? ats.missing.join(', ') : 'none'),
        h('p', { class: 'muted' }, 'You can add missing keywords in the Keywords step.')]
      : h('p', { class: 'muted' }, 'Give a target role or a job description to see which keywords your CV carries.'));
  }

  return { el: page.el, setSubstep: page.setSubstep, update };
}
