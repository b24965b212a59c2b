// The Features step: choose features (each switch explained by its dependencies and the rules),
// configure the enabled ones, and check the selection before moving on to templates.
// All three substeps are sections of one page; the one in the URL is highlighted and scrolled to.
import { h, replace, button, nextId } from '../dom.js';
import { substepSections } from '../steps.js';
import { evaluateRules, featureAvailability } from '../../lib/cvsession.js';

const STEP = 'features';

// The options the generate phase accepts (processing/features.py OPTIONS): the catalogue serves
// no option schema, and a value outside these would only fail later, in the job.
const bool = (label, def) => ({ kind: 'bool', label, def });
const int = (label, min, max, def) => ({ kind: 'int', label, min, max, def });
const choice = (label, values, def) => ({ kind: 'choice', label, values, def });
const text = (label, def, optional = false) => ({ kind: 'text', label, def, optional });
const set = (label, values, def) => ({ kind: 'set', label, values, def });
const url = (label) => ({ kind: 'url', label, def: null });
const color = (label) => ({ kind: 'color', label, def: null });
const CHART = {
  chart: choice('Chart type', ['bar', 'radar'], 'bar'),
  title: text('Chart title', 'Skills'),
  by: choice('Group skills by', ['auto', 'skill', 'keyword'], 'auto'),
  maxItems: int('Most items shown', 1, 30, 12),
  color: color('Chart colour'),
};
const mask = (label, def = true) => bool(label, def);
const OPTIONS = {
  'ats-optimization': {
    targetScore: int('Target ATS score (0–100)', 0, 100, 80),
    removeHostileCharacters: bool('Remove characters ATS cannot read', true),
    skillsGroup: text('Name of the added skills group', 'Key skills'),
  },
  'keyword-enhancement': {
    maxKeywords: int('Most keywords to add (1–100)', 1, 100, 15),
    addToSkills: bool('Add missing keywords to your skills', true),
    skillsGroup: text('Name of the added skills group', 'Key skills'),
  },
  'achievement-highlighting': {
    reorder: bool('Put the strongest achievements first', true),
    sections: set('Look for achievements in', ['work', 'volunteer', 'projects', 'education', 'awards'], ['work', 'volunteer', 'projects']),
  },
  'skills-visualization': CHART,
  'skills-chart': { ...CHART, chart: choice('Chart type', ['radar'], 'radar'), by: choice('Group skills by', ['skill'], 'skill') },
  'embed-qr-code': {
    target: choice('The QR code links to', ['share-link', 'website', 'profile'], 'share-link'),
    url: url('Custom link (optional)'),
    network: text('Profile network, e.g. LinkedIn (optional)', null, true),
    errorCorrection: choice('Error correction', ['L', 'M', 'Q', 'H'], 'M'),
    color: color('QR code colour'),
  },
  'interactive-timeline': {
    order: choice('Order', ['asc', 'desc'], 'asc'),
    sections: set('Sections on the timeline', ['work', 'education', 'volunteer', 'projects'], ['work', 'education']),
  },
  'language-proficiency': { rewriteFluency: bool('Rewrite fluency levels in standard terms', false) },
  'privacy-mode': {
    maskEmail: mask('Hide e-mail address'), maskPhone: mask('Hide phone number'),
    maskAddress: mask('Hide postal address'), maskLocation: mask('Hide city and region', false),
    maskDateOfBirth: mask('Hide date of birth'), maskProfiles: mask('Hide social profiles', false),
    maskPhoto: mask('Hide photo', false),
  },
};
const VALUE_LABELS = {
  bar: 'Bar chart', radar: 'Radar chart', auto: 'Automatic', skill: 'Skill', keyword: 'Keyword',
  'share-link': 'Your share link', website: 'Your website', profile: 'A social profile',
  L: 'Low (7%)', M: 'Medium (15%)', Q: 'Quartile (25%)', H: 'High (30%)',
  asc: 'Oldest first', desc: 'Newest first', work: 'Experience', volunteer: 'Volunteering',
  projects: 'Projects', education: 'Education', awards: 'Awards',
};
const HEX = /^#[0-9a-f]{6}$/i;
const URL_RE = /^https?:\/\/\S+$/;

const dict = (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
const has = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);


/** One labelled control for a configuration option; `send(value)` saves it (null removes it). */
function optionControl(key, spec, send) {
  const id = nextId('opt');
  const errorId = `${id}-error`;
  const error = h('div', { class: 'field-error', id: errorId });
  let input = null;
  let timer = null; // a typed value waiting to be saved
  let show = () => {};
  let el;
  const fail = (message) => {
    error.textContent = message || '';
    input?.setAttribute('aria-invalid', message ? 'true' : 'false');
  };
  const describe = { id, 'aria-describedby': errorId, name: key };
  if (spec.kind === 'bool') {
    input = h('input', { ...describe, type: 'checkbox', onchange: () => send(input.checked) });
    el = h('div', { class: 'field checkbox' }, input, h('label', { for: id }, spec.label), error);
    show = (v) => { input.checked = v === true; };
  } else if (spec.kind === 'choice') {
    input = h('select', { ...describe, onchange: () => send(input.value) },
      spec.values.map((v) => h('option', { value: v }, VALUE_LABELS[v] || v)));
    el = h('div', { class: 'field' }, h('label', { for: id }, spec.label), input, error);
    show = (v) => {
      if (!spec.values.includes(v) && typeof v === 'string' && ![...input.options].some((o) => o.value === v)) {
        input.appendChild(h('option', { value: v }, v)); // a value set elsewhere stays visible
      }
      input.value = String(v ?? spec.def);
    };
  } else if (spec.kind === 'set') {
    const boxes = spec.values.map((v) => h('input', { type: 'checkbox', id: `${id}-${v}`, value: v, name: key }));
    const save = (event) => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!chosen.length) {
        event.target.checked = true;
        fail('Choose at least one.');
        return;
      }
      fail('');
      send(chosen);
    };
    boxes.forEach((b) => b.addEventListener('change', save));
    el = h('fieldset', { class: 'field choices', 'aria-describedby': errorId }, h('legend', {}, spec.label),
      boxes.map((b) => h('div', { class: 'field checkbox' }, b, h('label', { for: b.id }, VALUE_LABELS[b.value] || b.value))), error);
    show = (v) => {
      const list = Array.isArray(v) ? v : spec.def;
      boxes.forEach((b) => { b.checked = list.includes(b.value); });
    };
  } else if (spec.kind === 'color') {
    input = h('input', { ...describe, type: 'color' });
    const flush = () => { clearTimeout(timer); timer = null; send(input.value); };
    // A colour picker fires `input` while dragging: save once it settles, not per pixel.
    input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(flush, 400); });
    input.addEventListener('change', flush);
    el = h('div', { class: 'field' }, h('label', { for: id }, spec.label), input,
      button('Use the default colour', () => send(null), { class: 'link-button' }), error);
    show = (v) => { input.value = HEX.test(v || '') ? v.toLowerCase() : '#1f6feb'; };
  } else {
    // int, number, text, url: typed values are checked, then saved when the edit settles.
    const numeric = spec.kind === 'int' || spec.kind === 'number';
    input = h('input', {
      ...describe,
      type: numeric ? 'number' : spec.kind === 'url' ? 'url' : 'text',
      min: spec.min, max: spec.max, step: spec.kind === 'int' ? 1 : numeric ? 'any' : undefined,
      inputmode: spec.kind === 'int' ? 'numeric' : undefined,
      maxlength: spec.kind === 'text' ? 80 : undefined,
    });
    const parse = () => {
      const raw = input.value.trim();
      if (numeric) {
        const n = Number(raw);
        const ok = raw !== '' && Number.isFinite(n) && (spec.kind !== 'int' || Number.isInteger(n))
          && (spec.min === undefined || n >= spec.min) && (spec.max === undefined || n <= spec.max);
        return ok ? { value: n } : { error: spec.min !== undefined ? `Enter a whole number from ${spec.min} to ${spec.max}.` : 'Enter a number.' };
      }
      if (raw === '') return spec.optional || spec.kind === 'url' ? { value: null } : { error: 'This cannot be empty.' };
      if (spec.kind === 'url' && !URL_RE.test(raw)) return { error: 'Enter a web address starting with http:// or https://.' };
      return { value: raw };
    };
    const flush = () => {
      clearTimeout(timer);
      timer = null;
      const { value, error: message } = parse();
      fail(message);
      if (!message) send(value);
    };
    input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(flush, 700); });
    input.addEventListener('change', flush);
    el = h('div', { class: 'field' }, h('label', { for: id }, spec.label), input, error);
    show = (v) => { input.value = v === null || v === undefined ? '' : String(v); };
  }
  return {
    el,
    set(value) {
      // Never overwrite what the user is editing, nor a value not yet saved.
      if (timer || (input && document.activeElement === input && spec.kind !== 'bool')) return;
      show(value === undefined ? spec.def : value);
    },
  };
}

/** A card with the options of one feature; unknown keys found in the state get a plain control. */
function configCard(ctx, feature) {
  const specs = { ...(OPTIONS[feature.id] || {}) };
  const controls = {};
  const send = (key) => (value) => ctx.mutate('feature.configure', { feature: feature.id, configuration: { [key]: value } });
  const list = h('div', { class: 'options' });
  const add = (key) => {
    controls[key] = optionControl(key, specs[key], send(key));
    list.appendChild(controls[key].el);
  };
  Object.keys(specs).forEach(add);
  const el = h('section', { class: 'card feature-config', dataset: { feature: feature.id } }, h('h3', {}, feature.title), list);
  return {
    el,
    configurable: () => Object.keys(specs).length > 0,
    update(configuration) {
      for (const [key, value] of Object.entries(configuration)) {
        if (has(specs, key)) continue;
        const kind = typeof value === 'boolean' ? 'bool' : typeof value === 'number' ? 'number' : typeof value === 'string' ? 'text' : null;
        if (!kind) continue; // structured values are set by other clients; not editable here
        specs[key] = { kind, label: key, def: null };
        add(key);
      }
      for (const [key, control] of Object.entries(controls)) control.set(has(configuration, key) ? configuration[key] : undefined);
    },
  };
}

function featureRow(ctx, feature) {
  const id = nextId('feature');
  const notesId = `${id}-notes`;
  const input = h('input', { id, type: 'checkbox', role: 'switch', 'aria-describedby': notesId, dataset: { feature: feature.id } });
  input.addEventListener('change', () => {
    ctx.mutate('feature.toggle', { feature: feature.id, enabled: input.checked })
      .then(() => row.update(ctx.session.state, null)); // a refused toggle springs back
  });
  const deps = (feature.dependencies || []).map((d) => ctx.catalogue.featuresById[d]?.title || d);
  const steps = (feature.requiresSteps || []).map((s) => `the ${ctx.catalogue.stepsById[s]?.title || s} step`);
  const needs = [...deps, ...steps];
  const notes = h('div', { class: 'feature-notes', id: notesId, 'aria-live': 'polite' });
  const el = h('li', { class: 'card feature', dataset: { feature: feature.id } },
    h('div', { class: 'feature-head' }, input, h('label', { for: id }, feature.title),
      feature.premium ? h('span', { class: 'tag tag-premium' }, 'Premium') : null),
    h('p', { class: 'muted' }, feature.description),
    needs.length ? h('p', { class: 'muted feature-requires' }, `Requires ${needs.join(', ')}.`) : null,
    notes);
  let lastNotes = '';
  const row = {
    el,
    update(state, effects) {
      const fx = effects || evaluateRules(state, ctx.catalogue);
      const av = featureAvailability(state, feature.id, ctx.catalogue, fx);
      const on = state.features?.[feature.id]?.enabled === true;
      const ruleOff = fx.disabled[feature.id] || [];
      const blocking = av.reasons.slice(0, av.reasons.length - ruleOff.length);
      input.checked = on;
      input.disabled = on ? !av.canDisable : !av.canEnable;
      el.classList.toggle('is-on', on);
      el.classList.toggle('is-locked', input.disabled);
      const lines = [];
      if (!on && blocking.length) lines.push(['requires', blocking.join(' ')]);
      if (ruleOff.length) lines.push(['disabled', `Turned off because: ${ruleOff.join(' ')}`]);
      if (fx.contradictions.includes(feature.id)) lines.push(['warning', 'Rules both require and turn off this feature; it stays off.']);
      if (av.requiredReasons.length) lines.push(['required', `Required because: ${av.requiredReasons.join(' ')}`]);
      if (av.recommendedReasons.length) lines.push(['recommended', `Recommended because: ${av.recommendedReasons.join(' ')}`]);
      if (fx.enabled[feature.id] && !on) lines.push(['suggested', `Suggested because: ${fx.enabled[feature.id].join(' ')}`]);
      const dependents = av.disableReasons.slice(av.requiredReasons.length);
      if (on && dependents.length) lines.push(['requires', dependents.join(' ')]);
      const key = JSON.stringify(lines);
      if (key !== lastNotes) {
        lastNotes = key;
        replace(notes, lines.map(([kind, message]) => h('p', { class: `note note-${kind}` }, message)));
      }
    },
  };
  return row;
}

/** Everything worth saying before leaving the step: what is on, what contradicts what. */
function checks(ctx, state, fx) {
  const cat = ctx.catalogue;
  const on = (fid) => state.features?.[fid]?.enabled === true;
  const title = (fid) => cat.featuresById[fid]?.title || fid;
  const problems = [];
  const advice = [];
  for (const f of cat.features) {
    const av = featureAvailability(state, f.id, cat, fx);
    if (fx.contradictions.includes(f.id)) problems.push({ fid: f.id, text: `${f.title}: the rules both require it and turn it off, so it stays off.` });
    if (!on(f.id) && av.requiredReasons.length) problems.push({ fid: f.id, text: `${f.title} is required: ${av.requiredReasons.join(' ')}`, fix: av.canEnable ? true : null });
    if (on(f.id) && fx.disabled[f.id]) problems.push({ fid: f.id, text: `${f.title} is on, but a rule turns it off: ${fx.disabled[f.id].join(' ')}`, fix: av.canDisable ? false : null });
    const ruleOff = (fx.disabled[f.id] || []).length;
    if (on(f.id)) av.reasons.slice(0, av.reasons.length - ruleOff).forEach((text) => problems.push({ fid: f.id, text }));
    if (!on(f.id) && av.canEnable && (av.recommendedReasons.length || fx.enabled[f.id])) {
      advice.push({ fid: f.id, text: `${f.title}: ${[...av.recommendedReasons, ...(fx.enabled[f.id] || [])].join(' ')}`, fix: true });
    }
  }
  return { enabled: cat.features.filter((f) => on(f.id)).map((f) => f.id), problems, advice, title };
}

export function mount(ctx) {
  const cat = ctx.catalogue;
  const steps = substepSections(ctx, null);
  const { sections } = steps;
  const setCurrent = steps.setSubstep;
  const rows = cat.features.map((f) => featureRow(ctx, f));
  const cards = Object.fromEntries(cat.features.map((f) => [f.id, configCard(ctx, f)]));

  // 1. choose
  replace(sections['features-select'].body,
    h('p', { class: 'muted' }, 'Switch on what your enhanced CV should include. A switch you cannot use says why.'),
    h('ul', { class: 'grid feature-list' }, rows.map((r) => r.el)));

  // 2. configure
  const noneOn = h('p', { class: 'muted' }, 'Switch on a feature to configure it.');
  const plain = h('p', { class: 'muted' });
  replace(sections['features-configure'].body, noneOn,
    h('div', { class: 'grid feature-configs' }, Object.values(cards).map((c) => c.el)), plain);

  // 3. check
  const summary = h('div', { class: 'feature-summary', 'aria-live': 'polite' });
  const cont = button('Continue to templates', () => {
    // Local-first: the completion is queued before the navigation records entering templates.
    ctx.mutate('step.complete', { step: STEP });
    ctx.go('templates');
  }, { class: 'primary' });
  replace(sections['features-validate'].body, summary, h('div', { class: 'actions' }, cont));

  const toggle = (fid, enabled) => button(enabled ? 'Turn on' : 'Turn off', () => ctx.mutate('feature.toggle', { feature: fid, enabled }), { 'aria-label': `${enabled ? 'Turn on' : 'Turn off'} ${cat.featuresById[fid].title}` });
  let lastSummary = '';
  function renderSummary(state, fx) {
    const c = checks(ctx, state, fx);
    const key = JSON.stringify([c.enabled, c.problems, c.advice]);
    if (key === lastSummary) return; // keep focus on a button that did not change
    lastSummary = key;
    const item = (p) => h('li', { dataset: { feature: p.fid } }, p.text, ' ', p.fix === true || p.fix === false ? toggle(p.fid, p.fix) : null);
    replace(summary,
      h('h3', {}, c.enabled.length ? `On (${c.enabled.length})` : 'No features are on'),
      c.enabled.length ? h('ul', { class: 'tags' }, c.enabled.map((fid) => h('li', { class: 'tag' }, c.title(fid)))) : h('p', { class: 'muted' }, 'That is fine: your CV is enhanced with the template alone.'),
      h('h3', {}, 'Contradictions to resolve'),
      c.problems.length ? h('ul', { class: 'problems' }, c.problems.map(item)) : h('p', { class: 'muted' }, 'None: the selection is consistent.'),
      c.advice.length ? [h('h3', {}, 'Recommended, not on'), h('ul', { class: 'advice' }, c.advice.map(item))] : null);
  }

  const page = steps.el;
  page.classList.add('features-page');

  return {
    el: page,
    setSubstep: (sub) => setCurrent(sub),
    update(state, { substep } = {}) {
      if (substep !== undefined) setCurrent(substep);
      if (!state) return; // a session never opened on this device has no state until the server's
      steps.updateStatuses(state);
      const fx = evaluateRules(state, cat);
      rows.forEach((r) => r.update(state, fx));
      const enabled = cat.features.filter((f) => state.features?.[f.id]?.enabled === true);
      for (const f of cat.features) {
        const on = enabled.includes(f);
        cards[f.id].el.hidden = !on || !cards[f.id].configurable();
        if (on) cards[f.id].update(dict(state.features[f.id].configuration));
      }
      noneOn.hidden = enabled.length > 0;
      const plainOnes = enabled.filter((f) => !cards[f.id].configurable()).map((f) => f.title);
      plain.hidden = plainOnes.length === 0;
      plain.textContent = plainOnes.length ? `Nothing to set for ${plainOnes.join(', ')}.` : '';
      renderSummary(state, fx);
    },
  };
}
