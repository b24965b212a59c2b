// Form fields bound to the session: every keystroke is saved as a local draft at once and
// synced as `form.setField` after the debounce; value, dirty, touched and errors come back with
// the session, so a reopened tab shows the field exactly as it was left.
import { h, nextId, dig } from './dom.js';

// "/forms/<form>/fields/<name>/value" -> the field's label, for the conflict panel.
export const fieldLabels = new Map();

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^[+()0-9 .\-/]{5,30}$/;
const YEAR_MONTH = /^\d{4}(-\d{2}(-\d{2})?)?$/;

// Validators return a message or null; kept as data so the rules are visible in one place.
export const validators = {
  required: (v) => (String(v ?? '').trim() === '' ? 'This field is required.' : null),
  email: (v) => (v && !EMAIL.test(String(v).trim()) ? 'Enter an email address like name@example.com.' : null),
  phone: (v) => (v && !PHONE.test(String(v).trim()) ? 'Enter a phone number (digits, spaces, + ( ) - .).' : null),
  url: (v) => (v && !/^https?:\/\/\S+$/.test(String(v).trim()) ? 'Enter a web address starting with http:// or https://.' : null),
  date: (v) => (v && !YEAR_MONTH.test(String(v).trim()) ? 'Use YYYY-MM (for example 2021-09).' : null),
  maxLength: (n) => (v) => (String(v ?? '').length > n ? `Keep this under ${n} characters.` : null),
};

export function fieldState(state, form, name) {
  return dig(state, 'forms', form, 'fields', name);
}

export function fieldValue(session, state, form, name, fallback = '') {
  const draft = session.fieldDraft(form, name);
  if (draft) return draft.value;
  const entry = fieldState(state, form, name);
  if (entry && entry.value !== null && entry.value !== undefined) return entry.value;
  return fallback;
}

function check(value, rules) {
  const errors = [];
  for (const rule of rules) {
    const message = rule(value);
    if (message) errors.push(message);
  }
  return errors;
}

/**
 * A labelled input bound to forms.<form>.fields.<name>.
 * opts: {label, type, rows (textarea), required, rules: [validator], help, initial, autocomplete, onValue}
 * Returns {el, update(state), input}.
 */
export function boundField(session, form, name, opts = {}) {
  const id = nextId('field');
  const rules = [...(opts.required ? [validators.required] : []), ...(opts.rules || [])];
  const errorId = `${id}-error`;
  const helpId = `${id}-help`;
  fieldLabels.set(`/forms/${form}/fields/${name}/value`, opts.label || name);
  const attrs = {
    id,
    name: `${form}.${name}`,
    'aria-describedby': [opts.help ? helpId : '', errorId].filter(Boolean).join(' '),
    autocomplete: opts.autocomplete || 'off',
    dataset: { form, field: name },
  };
  const input = opts.rows
    ? h('textarea', { ...attrs, rows: opts.rows })
    : h('input', { ...attrs, type: opts.type || 'text' });
  const errorBox = h('div', { class: 'field-error', id: errorId });
  const wrap = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, opts.label || name, opts.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
    opts.help ? h('div', { class: 'field-help', id: helpId }, opts.help) : null,
    input,
    errorBox,
  );

  function showErrors(errors, touched) {
    const visible = touched ? errors : [];
    input.setAttribute('aria-invalid', visible.length ? 'true' : 'false');
    errorBox.textContent = visible.join(' ');
    wrap.classList.toggle('has-error', visible.length > 0);
  }

  function save(touched) {
    const value = input.value;
    const errors = check(value, rules);
    session.setField(form, name, value, { dirty: true, touched, valid: errors.length === 0, errors });
    showErrors(errors, touched);
    if (opts.onValue) opts.onValue(value);
  }

  input.addEventListener('input', () => save(true));
  input.addEventListener('blur', () => {
    const entry = fieldState(session.state, form, name);
    const draft = session.fieldDraft(form, name);
    if (!(draft && draft.touched) && !(entry && entry.touched)) save(true);
  });

  function update(state) {
    const draft = session.fieldDraft(form, name);
    const entry = fieldState(state, form, name) || {};
    const value = fieldValue(session, state, form, name, opts.initial ?? '');
    const text = value === null || value === undefined ? '' : String(value);
    // Never overwrite what the user is typing (a draft not yet saved); otherwise show the
    // session's value, even in the focused field (e.g. a conflict resolved on another device).
    const typing = document.activeElement === input && draft;
    if (!typing && input.value !== text) input.value = text;
    const touched = draft ? draft.touched : entry.touched === true;
    const errors = draft ? draft.errors || [] : entry.errors || [];
    showErrors(errors, touched);
    wrap.classList.toggle('is-dirty', draft ? true : entry.dirty === true);
  }

  return { el: wrap, update, input };
}

/** Collect the current values (drafts first) of `names` in `form`. */
export function formValues(session, state, form, names, initial = {}) {
  const out = {};
  for (const name of names) out[name] = fieldValue(session, state, form, name, initial[name] ?? '');
  return out;
}
