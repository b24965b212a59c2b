// "My CVs" (the list of sessions, with the resume dialog on return) and "New CV".
import { api } from '../../lib/cvsession.js';
import { h, replace, button, when, toast, nextId } from '../dom.js';
import { openResumeDialog } from '../shell.js';

const STATUS_LABELS = {
  draft: 'Draft', in_progress: 'In progress', processing: 'Processing', paused: 'Paused',
  completed: 'Completed', failed: 'Failed', expired: 'Expired',
};

export async function renderHome(root, { navigate, resumeDialog, showList, catalogue, flags = {} }) {
  const offerResume = flags['resume-dialog'] !== false;
  replace(root, h('p', { class: 'loading' }, 'Loading your CVs…'));
  let page;
  try {
    page = await api.get('/api/sessions?limit=50');
  } catch (err) {
    replace(root, h('section', {}, h('h1', {}, 'Your CVs'),
      h('p', {}, err.status === 0 ? 'You are offline. Sessions you opened on this device still open from their links.' : err.message)));
    return;
  }
  const items = page.items || [];
  const resumable = items.filter((s) => s.resumable);
  const rows = items.map((s) => h('li', { class: 'session-row', dataset: { session: s.id } },
    h('a', { href: s.deepLink || `/session/${s.id}`, dataset: { route: '1' } }, s.title || 'Untitled CV'),
    h('span', { class: `tag tag-${s.status}` }, STATUS_LABELS[s.status] || s.status),
    h('progress', { max: 100, value: s.progress, 'aria-label': `${s.title || 'Untitled CV'}: ${s.progress}% done` }),
    h('span', { class: 'muted' }, `${s.progress}% · ${s.currentStep} · last active ${when(s.lastActiveAt)}`)));
  replace(root, h('section', { class: 'home' },
    h('h1', {}, 'Your CVs'),
    h('p', { class: 'lead' }, 'Everything you do is saved as you go. Close the tab, go offline or switch device: you continue where you left off.'),
    h('div', { class: 'actions' },
      button('Start a new CV', () => navigate('/new'), { class: 'primary' }),
      resumable.length && offerResume ? button('Where was I?', () => openResumeDialog(resumeDialog, resumable, navigate, catalogue)) : null),
    items.length ? h('ul', { class: 'sessions' }, rows) : h('p', { class: 'muted' }, 'No CVs yet.')));
  // On return (once per tab), offer to resume the most recent session.
  if (offerResume && resumable.length && !showList && !sessionStorage.getItem('cvsession:resume-offered')) {
    sessionStorage.setItem('cvsession:resume-offered', '1');
    openResumeDialog(resumeDialog, resumable, navigate, catalogue);
  }
}

export function renderNew(root, { navigate }) {
  const ids = { title: nextId('new'), role: nextId('new'), instructions: nextId('new'), quick: nextId('new') };
  const title = h('input', { id: ids.title, name: 'title', maxlength: 200, placeholder: 'e.g. Product designer CV', autocomplete: 'off' });
  const role = h('input', { id: ids.role, name: 'role', maxlength: 200, placeholder: 'e.g. Senior product designer', autocomplete: 'off' });
  const instructions = h('textarea', { id: ids.instructions, name: 'instructions', rows: 3, maxlength: 5000 });
  const quick = h('input', { id: ids.quick, name: 'quickCreate', type: 'checkbox' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create and upload my CV');
  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: ids.title }, 'Name this CV'), title),
    h('div', { class: 'field' }, h('label', { for: ids.role }, 'Target role'), role),
    h('div', { class: 'field' }, h('label', { for: ids.instructions }, 'Instructions (optional)'), instructions),
    h('div', { class: 'field checkbox' }, quick, h('label', { for: ids.quick }, 'Quick create: recommended features and the Modern template, fewer questions')),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const doc = await api.post('/api/sessions', {
        title: title.value.trim(),
        quickCreate: quick.checked,
        target: { role: role.value.trim(), instructions: instructions.value.trim() },
      });
      navigate(`/session/${doc.id}/upload/file-select`);
    } catch (err) {
      toast(err.status === 0 ? 'You are offline: a new CV needs the network once.' : err.message, 'error');
      submit.disabled = false;
    }
  });
  replace(root, h('section', { class: 'new' }, h('h1', {}, 'A new CV'), form));
  title.focus();
}

/** Redeem a pairing code from another device: this browser becomes the same owner. */
export function renderPair(root, { navigate }) {
  const params = new URLSearchParams(location.search);
  const id = nextId('pair');
  const code = h('input', { id, name: 'code', autocomplete: 'one-time-code', value: params.get('code') || '', maxlength: 64 });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Continue here');
  const form = h('form', { class: 'stack' },
    h('div', { class: 'field' }, h('label', { for: id }, 'Code shown on your other device'), code),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await api.post('/api/pairing/redeem', { code: code.value, mode: 'cookie' });
      const next = params.get('next') || '/';
      navigate(next.startsWith('/') && !next.startsWith('//') ? next : '/');
    } catch (err) {
      toast(err.status === 0 ? 'You are offline.' : err.message, 'error');
      submit.disabled = false;
    }
  });
  replace(root, h('section', { class: 'pair' }, h('h1', {}, 'Continue on this device'), form));
}
