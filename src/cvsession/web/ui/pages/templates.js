// The Templates step: pick a template, customise it (colours, fonts, section order, hidden
// sections) and see a live preview of the parsed CV in it. All three substeps are sections of
// one page; the one in the URL is highlighted and scrolled to. Everything shown is read from the
// session on each update, so a cold deep link shows the saved choice and customisations.
import { h, replace, button, nextId } from '../dom.js';
import { substepSections } from '../steps.js';

const STEP = 'templates';
// Families the server renderer knows (processing/render.py FONTS); documents load no web fonts,
// so each falls back to a stack the reader has.
const SANS = "system-ui, -apple-system, 'Segoe UI', Arial, sans-serif";
const SERIF = "Georgia, 'Times New Roman', serif";
const FONTS = {
  Inter: SANS, Poppins: SANS, 'Source Sans 3': SANS, Roboto: SANS, 'Open Sans': SANS, Lato: SANS,
  Montserrat: SANS, Arial: SANS, Helvetica: SANS, Verdana: SANS, Georgia: SERIF,
  'Times New Roman': SERIF, Garamond: SERIF, Merriweather: SERIF, 'Playfair Display': SERIF,
  'Source Serif 4': SERIF, 'Courier New': "'Courier New', monospace",
};
const FAMILY = /^[A-Za-z][A-Za-z0-9]*(?:[ -][A-Za-z0-9]+){0,5}$/; // render.py's plain family name
const COLOR_LABELS = { primary: 'Accent colour', text: 'Text colour', background: 'Background colour' };
const FONT_LABELS = { heading: 'Heading font', body: 'Body font' };
const TITLES = {
  basics: 'Profile', work: 'Experience', education: 'Education', skills: 'Skills',
  projects: 'Projects', awards: 'Awards', certificates: 'Certificates', languages: 'Languages',
  interests: 'Interests', references: 'References', volunteer: 'Volunteering', publications: 'Publications',
};
const SIDEBAR = new Set(['basics', 'skills', 'languages', 'interests']); // the creative sidebar
// Shown while the CV is not parsed yet, so the templates can still be compared.
const SAMPLE_CV = {
  basics: { name: 'Your name', label: 'Your role', email: 'you@example.com', summary: 'A few lines about you will appear here once your CV is parsed.' },
  work: [{ name: 'Company', position: 'Your position', startDate: '2021', summary: 'What you did and achieved.' }],
  education: [{ institution: 'University', area: 'Your subject', studyType: 'Degree', endDate: '2020' }],
  skills: [{ name: 'A skill', keywords: ['keyword', 'keyword'] }],
};

const dict = (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
const list = (v) => (Array.isArray(v) ? v : []);
// CV text as display text: stored CVs can hold anything, only strings and numbers show.
const str = (v) => (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? String(v).trim() : '');
const join = (sep, ...parts) => parts.map(str).filter(Boolean).join(sep);
const cpCompare = (a, b) => { // Python's order: by code point
  const x = Array.from(a); const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
};

function hexColor(value) {
  if (typeof value !== 'string') return null;
  if (/^#[0-9a-f]{6}$/i.test(value)) return value.toLowerCase();
  if (/^#[0-9a-f]{3}$/i.test(value)) return `#${[...value.slice(1)].map((c) => c + c).join('')}`.toLowerCase();
  return null;
}
// Colours that reach element.style: hex or a plain named colour; anything else is the default.
const safeColor = (value, fallback) => (hexColor(value) || (typeof value === 'string' && /^[a-z]{3,20}$/i.test(value) ? value : fallback));
function fontStack(value, fallback) {
  const name = typeof value === 'string' ? value.split(/\s+/).filter(Boolean).join(' ') : '';
  const known = Object.keys(FONTS).find((f) => f.toLowerCase() === name.toLowerCase());
  if (known) return `'${known}', ${FONTS[known]}`;
  if (FAMILY.test(name)) return `'${name}', ${FONTS[fallback] || SANS}`;
  return `'${fallback}', ${FONTS[fallback] || SANS}`;
}

/** The template's sections in the customised order (render.py _theme, without the timeline). */
export function sectionOrder(template, custom) {
  const known = template.sections;
  const entries = Object.entries(dict(custom.sectionOrder)).filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v))
    .map(([k, v]) => [String(v.sortKey ?? ''), k, v.section])
    .sort((a, b) => cpCompare(a[0], b[0]) || cpCompare(a[1], b[1]));
  const ordered = [];
  for (const [, , section] of entries) if (known.includes(section) && !ordered.includes(section)) ordered.push(section);
  return [...ordered, ...known.filter((s) => !ordered.includes(s))];
}

/**
 * The sectionOrder entries that turn the current map into `order`: keyed by section name with
 * zero-padded sort keys, so a swap rewrites two entries and concurrent swaps merge per key.
 */
export function orderPatch(order, current) {
  const patch = {};
  order.forEach((section, i) => {
    const sortKey = String(i).padStart(4, '0');
    const entry = dict(current[section]);
    if (entry.section !== section || entry.sortKey !== sortKey) patch[section] = { section, sortKey };
  });
  for (const key of Object.keys(current)) if (!order.includes(key)) patch[key] = null; // stray keys
  return patch;
}


const styled = (el, props) => { Object.assign(el.style, props); return el; };

// One renderer per JSON Resume section: [title, subtitle, text, bullets] of an item.
const ITEMS = {
  work: (w) => [join(' — ', w.position, w.name || w.company), join(' – ', w.startDate, w.endDate || (w.startDate ? 'present' : '')), str(w.summary), list(w.highlights)],
  volunteer: (w) => [join(' — ', w.position, w.organization), join(' – ', w.startDate, w.endDate), str(w.summary), list(w.highlights)],
  education: (e) => [join(' — ', join(' ', e.studyType, e.area), e.institution), join(' – ', e.startDate, e.endDate), str(e.score), list(e.courses)],
  skills: (s) => [join(' · ', s.name, s.level), '', list(s.keywords).map(str).filter(Boolean).join(', '), []],
  projects: (p) => [str(p.name), join(' – ', p.startDate, p.endDate), str(p.description), list(p.highlights)],
  awards: (a) => [join(' — ', a.title, a.awarder), str(a.date), str(a.summary), []],
  certificates: (c) => [join(' — ', c.name, c.issuer), str(c.date), '', []],
  languages: (l) => [join(' — ', l.language, l.fluency), '', '', []],
  interests: (i) => [str(i.name), '', list(i.keywords).map(str).filter(Boolean).join(', '), []],
  references: (r) => [str(r.name), '', str(r.reference), []],
  publications: (p) => [join(' — ', p.name, p.publisher), str(p.releaseDate), str(p.summary), []],
};

function previewSection(section, cv, theme) {
  const heading = styled(h('h4', {}, TITLES[section] || section), { color: theme.primary, fontFamily: theme.heading, margin: '1em 0 0.3em' });
  if (section === 'basics') {
    const b = dict(cv.basics);
    const loc = dict(b.location);
    const contact = join(' · ', b.email, b.phone, b.url, join(', ', loc.city, loc.region, loc.countryCode));
    const body = [
      str(b.name) ? styled(h('h3', { class: 'cv-name' }, str(b.name)), { fontFamily: theme.heading, color: theme.primary, margin: '0' }) : null,
      str(b.label) ? h('p', { class: 'cv-label' }, str(b.label)) : null,
      contact ? styled(h('p', { class: 'cv-contact' }, contact), { fontSize: '0.9em' }) : null,
      str(b.summary) ? h('p', {}, str(b.summary)) : null,
    ].filter(Boolean);
    return body.length ? h('div', { class: 'cv-section cv-basics', dataset: { section } }, body) : null;
  }
  const render = ITEMS[section];
  const items = render ? list(cv[section]).map((item) => render(dict(item))).filter(([t, s, x, b]) => t || s || x || b.length) : [];
  if (!items.length) return null;
  return h('div', { class: 'cv-section', dataset: { section } }, heading, items.map(([title, sub, text, bullets]) => h('div', { class: 'cv-item' },
    title ? styled(h('p', {}, title), { fontWeight: '600', margin: '0.4em 0 0' }) : null,
    sub ? styled(h('p', {}, sub), { fontSize: '0.85em', opacity: '0.8', margin: '0' }) : null,
    text ? styled(h('p', {}, text), { margin: '0.2em 0' }) : null,
    bullets.length ? h('ul', {}, bullets.map(str).filter(Boolean).map((x) => h('li', {}, x))) : null)));
}

/** The CV in the template, built as plain DOM styled through element.style (CSP allows it). */
function renderPreview(box, template, custom, cv) {
  const colors = dict(custom.colors);
  const fonts = dict(custom.fonts);
  const c = Object.fromEntries(Object.entries(template.colors).map(([k, v]) => [k, safeColor(colors[k], v)]));
  const theme = {
    primary: c.primary || '#1f6feb',
    heading: fontStack(fonts.heading, template.fonts.heading || 'Inter'),
    body: fontStack(fonts.body, template.fonts.body || 'Inter'),
  };
  const hidden = dict(custom.hiddenSections);
  const shown = sectionOrder(template, custom).filter((s) => hidden[s] !== true);
  const parts = shown.map((s) => previewSection(s, cv, theme)).filter(Boolean);
  const page = styled(h('div', { class: `cv-page cv-${template.id}`, dataset: { template: template.id } }), {
    background: c.background || '#ffffff', color: c.text || '#1b1f24', fontFamily: theme.body,
    padding: '1.25rem', lineHeight: '1.45', borderRadius: '4px', overflowWrap: 'anywhere',
  });
  if (template.id === 'creative') {
    // Two columns that wrap to one on a phone, with no media query needed.
    const side = styled(h('div', { class: 'cv-sidebar' }), { flex: '1 1 12rem', background: c.primary, color: c.background, padding: '1rem', borderRadius: '4px' });
    const main = styled(h('div', { class: 'cv-main' }), { flex: '2 1 18rem' });
    parts.forEach((p) => (SIDEBAR.has(p.dataset.section) ? side : main).appendChild(p));
    side.querySelectorAll('h3, h4').forEach((x) => { x.style.color = c.background; });
    styled(page, { display: 'flex', flexWrap: 'wrap', gap: '1rem' }).append(side, main);
  } else {
    if (template.id === 'classic') parts.filter((p) => p.dataset.section === 'basics').forEach((p) => { p.style.textAlign = 'center'; });
    page.append(...parts);
  }
  if (!parts.length) page.append(h('p', {}, 'Every section is hidden or empty.'));
  replace(box, page);
}

export function mount(ctx) {
  const cat = ctx.catalogue;
  const steps = substepSections(ctx, null);
  const { sections } = steps;
  const setCurrent = steps.setSubstep;
  const radioName = nextId('template');
  let state = ctx.session.state || {};
  const selected = () => dict(state.template).selected;
  const customOf = (tid) => dict(dict(dict(state.template).customizations)[tid]);
  const customize = (args) => ctx.mutate('template.customize', { template: selected(), ...args });

  // 1. pick: native radios give the radio-group keyboard behaviour (arrows move and select).
  const cards = cat.templates.map((t) => {
    const id = nextId('tpl');
    // Named by the title alone and described by the rest, so a screen reader reads "Modern" first.
    const radio = h('input', { type: 'radio', name: radioName, id, value: t.id, 'aria-labelledby': `${id}-name`, 'aria-describedby': `${id}-desc`,
      onchange: () => ctx.mutate('template.select', { template: t.id }) });
    const swatches = h('span', { class: 'swatches', 'aria-hidden': 'true' }, Object.values(t.colors).map((col) => styled(h('span', { class: 'swatch' }), { background: col, display: 'inline-block', width: '1.25em', height: '1.25em', border: '1px solid rgba(0,0,0,.25)', borderRadius: '50%' })));
    const sample = styled(h('span', { class: 'font-sample' }), {});
    const card = h('label', { class: 'card template-card', for: id, dataset: { template: t.id } },
      radio, h('span', { class: 'template-name', id: `${id}-name` }, t.title), swatches,
      h('span', { class: 'muted', id: `${id}-desc` }, t.description), sample);
    return { t, radio, card, sample, swatches };
  });
  replace(sections['template-select'].body, h('fieldset', { class: 'template-picker' },
    h('legend', { class: 'visually-hidden' }, 'Template'), h('div', { class: 'grid' }, cards.map((c) => c.card))));

  // 2. customise: rebuilt only when the selected template changes.
  const customBox = h('div', { class: 'customizer' });
  sections['template-customize'].body.append(customBox);
  let customizer = null;

  function buildCustomizer(t) {
    const controls = [];
    const pendingColor = {}; // key -> value dragged in the picker, not saved yet
    let timer = null;
    const colorFields = Object.keys(t.colors).map((key) => {
      const id = nextId('color');
      const input = h('input', { type: 'color', id, name: `color-${key}` });
      const flush = () => {
        clearTimeout(timer); timer = null;
        const colors = { ...pendingColor };
        for (const k of Object.keys(pendingColor)) delete pendingColor[k];
        if (Object.keys(colors).length) customize({ colors });
      };
      input.addEventListener('input', () => { // live preview now, one save when the drag settles
        pendingColor[key] = input.value;
        refreshPreview();
        clearTimeout(timer); timer = setTimeout(flush, 400);
      });
      input.addEventListener('change', flush);
      controls.push(() => {
        if (key in pendingColor) return;
        const value = hexColor(customOf(t.id).colors?.[key]) || hexColor(t.colors[key]) || '#000000';
        if (input.value !== value) input.value = value;
      });
      return h('div', { class: 'field' }, h('label', { for: id }, COLOR_LABELS[key] || key), input);
    });
    const fontFields = Object.keys(t.fonts).map((key) => {
      const id = nextId('font');
      const families = [...new Set([...Object.keys(FONTS), ...Object.values(t.fonts)])];
      const select = h('select', { id, name: `font-${key}`, onchange: () => customize({ fonts: { [key]: select.value } }) },
        families.map((f) => h('option', { value: f }, f === t.fonts[key] ? `${f} (default)` : f)));
      controls.push(() => {
        const value = str(customOf(t.id).fonts?.[key]) || t.fonts[key];
        if (![...select.options].some((o) => o.value === value)) select.append(h('option', { value }, value));
        if (select.value !== value) select.value = value;
      });
      return h('div', { class: 'field' }, h('label', { for: id }, FONT_LABELS[key] || key), select);
    });

    const rows = {};
    const orderList = h('ol', { class: 'section-order' });
    const move = (section, delta) => {
      const custom = customOf(t.id);
      const order = sectionOrder(t, custom);
      const i = order.indexOf(section);
      const j = i + delta;
      if (i < 0 || j < 0 || j >= order.length) return;
      [order[i], order[j]] = [order[j], order[i]];
      customize({ sectionOrder: orderPatch(order, dict(custom.sectionOrder)) });
    };
    for (const section of t.sections) {
      const title = TITLES[section] || section;
      const hideId = nextId('hide');
      const hide = h('input', { type: 'checkbox', id: hideId, onchange: () => customize({ hiddenSections: { [section]: hide.checked } }) });
      const up = button('Move up', () => move(section, -1), { 'aria-label': `Move ${title} up`, class: 'move-up' });
      const down = button('Move down', () => move(section, 1), { 'aria-label': `Move ${title} down`, class: 'move-down' });
      const li = h('li', { class: 'section-row', dataset: { section } }, h('span', { class: 'section-name' }, title),
        h('span', { class: 'actions' }, up, down, h('span', { class: 'field checkbox' }, hide, h('label', { for: hideId }, `Hide ${title}`))));
      rows[section] = { li, up, down, hide };
    }
    controls.push(() => {
      const custom = customOf(t.id);
      const order = sectionOrder(t, custom);
      const hidden = dict(custom.hiddenSections);
      const domOrder = [...orderList.children].map((li) => li.dataset.section);
      if (domOrder.join() !== order.join()) {
        // Moving nodes drops focus: give it back so Move up / Move down can be pressed again.
        const focused = document.activeElement;
        order.forEach((s) => orderList.appendChild(rows[s].li));
        if (focused && orderList.contains(focused) && !focused.disabled) focused.focus();
      }
      order.forEach((s, i) => {
        const r = rows[s];
        const wasFocused = document.activeElement;
        r.up.disabled = i === 0;
        r.down.disabled = i === order.length - 1;
        // A button that just became disabled loses focus; hand it to its sibling.
        if (wasFocused === r.up && r.up.disabled) r.down.focus();
        if (wasFocused === r.down && r.down.disabled) r.up.focus();
        r.hide.checked = hidden[s] === true;
        r.li.classList.toggle('is-hidden', hidden[s] === true);
      });
    });

    const el = h('div', { class: 'customizer-body', dataset: { template: t.id } },
      h('p', { class: 'muted' }, `Customising ${t.title}. Changes are saved as you make them.`),
      h('fieldset', { class: 'grid' }, h('legend', {}, 'Colours'), colorFields),
      h('fieldset', { class: 'grid' }, h('legend', {}, 'Fonts'), fontFields),
      h('fieldset', {}, h('legend', {}, 'Sections (order and visibility)'), orderList),
      h('div', { class: 'actions' }, button(`Reset ${t.title} to its defaults`, () => ctx.mutate('template.reset', { template: t.id }))));
    return { id: t.id, el, pendingColor, update: () => controls.forEach((f) => f()) };
  }

  // 3. preview
  const previewBox = h('div', { class: 'cv-preview', 'aria-label': 'Preview of your CV', role: 'region' });
  const previewNote = h('p', { class: 'muted' });
  const cont = button('Continue to preview', () => {
    // Local-first: the completion is queued before the navigation records entering preview.
    ctx.mutate('step.complete', { step: STEP });
    ctx.go('preview');
  }, { class: 'primary' });
  replace(sections['template-preview'].body, previewNote, previewBox, h('div', { class: 'actions' }, cont));

  let lastPreview = '';
  function refreshPreview() {
    const t = cat.templatesById[selected()];
    if (!t) {
      lastPreview = '';
      replace(previewBox, h('p', { class: 'muted' }, 'Choose a template to see your CV in it.'));
      return;
    }
    const saved = customOf(t.id);
    const custom = customizer?.id === t.id ? { ...saved, colors: { ...dict(saved.colors), ...customizer.pendingColor } } : saved;
    const cv = state.cv && typeof state.cv === 'object' ? state.cv : SAMPLE_CV;
    const key = JSON.stringify([t.id, custom, state.cv]);
    if (key === lastPreview) return; // a change elsewhere in the session: nothing to redraw
    lastPreview = key;
    previewNote.textContent = state.cv ? '' : 'Your CV is not parsed yet: the preview shows sample text.';
    previewNote.hidden = Boolean(state.cv);
    renderPreview(previewBox, t, custom, cv);
  }

  const page = steps.el;
  page.classList.add('templates-page');

  return {
    el: page,
    setSubstep: (sub) => setCurrent(sub),
    update(next, { substep } = {}) {
      if (substep !== undefined) setCurrent(substep);
      if (!next) return; // a session never opened on this device has no state until the server's
      state = next;
      steps.updateStatuses(next);
      const tid = selected();
      const t = cat.templatesById[tid] || null;
      for (const c of cards) {
        const on = c.t.id === tid;
        if (c.radio.checked !== on) c.radio.checked = on;
        c.card.classList.toggle('is-selected', on);
        // The cards show each template as customised, so the choice compares like with like.
        const custom = customOf(c.t.id);
        [...c.swatches.children].forEach((sw, i) => { sw.style.background = safeColor(dict(custom.colors)[Object.keys(c.t.colors)[i]], Object.values(c.t.colors)[i]); });
        c.sample.textContent = `Aa — ${str(dict(custom.fonts).heading) || c.t.fonts.heading} / ${str(dict(custom.fonts).body) || c.t.fonts.body}`;
        c.sample.style.fontFamily = fontStack(dict(custom.fonts).heading, c.t.fonts.heading);
      }
      if (!t) {
        customizer = null;
        replace(customBox, h('p', { class: 'muted' }, 'Choose a template first; its colours, fonts and sections appear here.'));
      } else if (customizer?.id !== t.id) {
        customizer = buildCustomizer(t);
        replace(customBox, customizer.el);
      }
      customizer?.update();
      cont.disabled = !t;
      cont.title = t ? '' : 'Choose a template first.';
      refreshPreview();
    },
  };
}
