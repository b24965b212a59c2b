// The session-aware frame around every page: progress, breadcrumbs, save status, presence,
// conflicts and the resume dialog.
import { h, replace, button, minutes, plural, when, toast } from './dom.js';
import { fieldLabels } from './forms.js';
import { api } from '../lib/cvsession.js';
import { report } from './signals.js';
import { overallProgress as workflowOverallProgress, stepCompletion as workflowStepCompletion } from '../lib/workflow.js';


export function stepUrl(sessionId, step, substep) {
  return `/session/${encodeURIComponent(sessionId)}${step ? `/${step}` : ''}${substep ? `/${substep}` : ''}`;
}

export function stepStatus(state, step) {
  return state?.steps?.[step]?.status || 'pending';
}

/** Prerequisites of `step` not yet satisfied, as the server computes them (core/navigation). */
export function missingPrerequisites(catalogue, state, step) {
  const def = catalogue.stepsById[step];
  if (!def) return [];
  return def.requires.filter((req) => {
    const status = stepStatus(state, req);
    return !(status === 'completed' || (status === 'skipped' && catalogue.stepsById[req].skippable));
  });
}

export function prerequisiteReason(catalogue, step, missing) {
  const titles = missing.map((s) => catalogue.stepsById[s].title);
  const joined = titles.length <= 1 ? titles.join('') : `${titles.slice(0, -1).join(', ')} and ${titles.at(-1)}`;
  return `${catalogue.stepsById[step].title} needs ${joined} to be completed first.`;
}

// The server's formulas (lib/workflow.js, ported from core/progress.py) over the served catalogue.
export function stepCompletion(catalogue, state, step) {
  return workflowStepCompletion(state || {}, step, catalogue.stepsById[step].substeps);
}

export function overallProgress(catalogue, state) {
  return workflowOverallProgress(state || {}, catalogue.steps);
}

export function renderProgress(nav, catalogue, state, route) {
  const pct = overallProgress(catalogue, state);
  const items = catalogue.steps.map((s, i) => {
    const status = stepStatus(state, s.id);
    const missing = missingPrerequisites(catalogue, state, s.id);
    const current = route.step === s.id;
    const label = `${i + 1}. ${s.title}`;
    const pctStep = stepCompletion(catalogue, state, s.id);
    const attrs = {
      class: `step step-${status}${current ? ' is-current' : ''}${missing.length ? ' is-locked' : ''}`,
      href: stepUrl(state.id, s.id),
      'aria-current': current ? 'step' : undefined,
      title: missing.length ? prerequisiteReason(catalogue, s.id, missing) : `${s.title}: ${status.replace('_', ' ')}`,
      dataset: { step: s.id, route: '1' },
    };
    const subs = s.substeps.map((sub) => {
      const st = state?.steps?.[s.id]?.substeps?.[sub]?.status || 'pending';
      return h('span', { class: `dot dot-${st}`, title: `${s.substepTitles?.[sub] || sub}: ${st}` });
    });
    return h('li', {}, h('a', attrs, h('span', { class: 'step-label' }, label), h('span', { class: 'dots', 'aria-hidden': 'true' }, subs), h('span', { class: 'visually-hidden' }, ` ${status.replace('_', ' ')}, ${pctStep}%`)));
  });
  replace(
    nav,
    h('div', { class: 'overall' },
      h('label', { for: 'overall-bar' }, `Overall ${pct}%`),
      h('progress', { id: 'overall-bar', max: 100, value: pct }, `${pct}%`)),
    h('ol', { class: 'steps' }, items),
  );
  // On a narrow screen the step list scrolls sideways: keep the current step in view.
  const current = nav.querySelector('.step.is-current');
  const list = nav.querySelector('.steps');
  if (current && list && list.scrollWidth > list.clientWidth) {
    list.scrollLeft = current.offsetLeft - (list.clientWidth - current.offsetWidth) / 2;
  }
}

export function renderBreadcrumbs(nav, catalogue, state, route) {
  const crumbs = [h('a', { href: '/', dataset: { route: '1' } }, 'My CVs')];
  crumbs.push(h('a', { href: stepUrl(state.id), dataset: { route: '1' } }, state.title || 'Untitled CV'));
  if (route.step) {
    const def = catalogue.stepsById[route.step];
    crumbs.push(h('a', { href: stepUrl(state.id, route.step), dataset: { route: '1' } }, def.title));
    if (route.substep) crumbs.push(h('span', { 'aria-current': 'page' }, def.substepTitles?.[route.substep] || route.substep));
  }
  const list = h('ol', {}, crumbs.map((c) => h('li', {}, c)));
  replace(nav, list);
}

export function renderStatus(box, session) {
  const st = session.status || { kind: 'saved', pending: 0 };
  let text;
  if (st.kind === 'saving') text = 'Saving…';
  else if (st.kind === 'offline') text = st.pending ? `Offline — ${plural(st.pending, 'change')} pending` : 'Offline — all changes saved here';
  else if (st.kind === 'error') text = `Sync error${st.message ? `: ${st.message}` : ''}`;
  else text = 'Saved';
  replace(
    box,
    h('span', { class: `badge badge-${st.kind}`, dataset: { kind: st.kind, pending: String(st.pending || 0) } }, text),
    st.kind === 'error' || st.kind === 'offline' ? button('Retry', () => session.retry(), { class: 'link-button' }) : null,
  );
}

export function renderPresence(box, session) {
  const others = (session.presence || []).filter((p) => !p.self);
  if (!others.length) {
    replace(box);
    return;
  }
  const names = others.map((p) => p.device || 'another device');
  replace(box, h('span', { class: 'presence-badge', title: names.join(', ') }, `Also open on ${names.join(', ')}`));
}

function show(value) {
  if (value === null || value === undefined) return '(empty)';
  if (typeof value === 'string') return value === '' ? '(empty)' : value;
  return JSON.stringify(value);
}

export function renderConflicts(aside, session) {
  const open = (session.conflicts || []).filter((c) => c.status !== 'resolved');
  aside.hidden = open.length === 0;
  if (!open.length) {
    replace(aside);
    return;
  }
  const items = open.map((c) => {
    const label = fieldLabels.get(c.path) || c.path;
    const custom = h('input', { type: 'text', 'aria-label': `A new value for ${label}`, value: show(c.yours) === '(empty)' ? '' : show(c.yours) });
    const act = (choice, value) => async () => {
      try {
        await session.resolveConflict(c.id, choice, value);
        toast(`Kept ${choice === 'mine' ? 'your' : choice === 'theirs' ? 'the other' : 'the new'} value for ${label}.`);
      } catch (err) {
        toast(err.message || String(err), 'error');
      }
    };
    return h('li', { class: 'conflict', dataset: { conflict: c.id, path: c.path } },
      h('h3', {}, label),
      h('dl', {},
        h('dt', {}, 'Your edit'), h('dd', { class: 'conflict-yours' }, show(c.yours)),
        h('dt', {}, 'Saved elsewhere'), h('dd', { class: 'conflict-theirs' }, show(c.theirs))),
      h('div', { class: 'actions' },
        button('Keep mine', act('mine')),
        button('Keep theirs', act('theirs')),
        h('span', { class: 'custom' }, custom, button('Use this', () => act('value', custom.value)()))));
  });
  replace(aside, h('h2', {}, `${plural(open.length, 'conflict')} to resolve`),
    h('p', {}, 'The same field was changed in two places. Both values are kept until you choose.'),
    h('ul', {}, items));
}

/** The resume dialog: where to continue, why, how long, how sure, and the other sessions. */
export async function openResumeDialog(dialog, sessions, onGo, catalogue = null) {
  const where = (step, sub) => {
    const def = catalogue?.stepsById?.[step];
    const title = def?.title || step;
    return sub ? `${title} › ${def?.substepTitles?.[sub] || sub}` : title;
  };
  const first = sessions[0];
  let rec = null;
  if (first) {
    try {
      rec = await api.get(`/api/sessions/${first.id}/recommendation`);
    } catch {
      rec = { action: 'continue', step: first.currentStep, substep: first.currentSubstep, deepLink: first.deepLink, reason: 'Continue where you left off.' };
    }
  }
  const go = (url, taken) => () => {
    if (taken) report('resume.taken', taken.sessionId, { step: taken.step, substep: taken.substep ?? null, fromRecommendation: taken.fromRecommendation });
    dialog.close();
    onGo(url);
  };
  if (first && rec && typeof rec.confidence === 'number') {
    report('resume.offered', first.id, { recommendedStep: rec.step, recommendedSubstep: rec.substep ?? null, confidence: rec.confidence, estimatedMinutes: rec.estimatedMinutes ?? 0 });
  }
  const content = [h('h2', { id: 'resume-title' }, first ? 'Welcome back' : 'Your CVs')];
  if (first && rec) {
    content.push(
      h('p', { class: 'resume-lead' }, `Continue “${first.title || 'Untitled CV'}”`, rec.step ? ` at ${where(rec.step, rec.substep)}` : ''),
      h('p', { class: 'resume-reason' }, rec.reason || ''),
      h('ul', { class: 'resume-facts' },
        rec.estimatedMinutes !== undefined ? h('li', {}, `Time to finish: ${minutes(rec.estimatedMinutes)}`) : null,
        rec.confidenceLabel ? h('li', {}, `Confidence: ${rec.confidenceLabel}${rec.confidence !== undefined ? ` (${Math.round(rec.confidence * 100)}%)` : ''}`) : null,
        h('li', {}, `Last active: ${when(first.lastActiveAt)}`)),
      h('div', { class: 'actions' }, button('Continue', go(rec.deepLink || first.deepLink, { sessionId: first.id, step: rec.step, substep: rec.substep, fromRecommendation: true }), { class: 'primary', autofocus: true })),
    );
    if (rec.alternatives && rec.alternatives.length) {
      content.push(h('h3', {}, 'Or'), h('ul', { class: 'alternatives' }, rec.alternatives.map((alt) =>
        h('li', {}, button(where(alt.step, alt.substep), go(alt.deepLink, { sessionId: first.id, step: alt.step, substep: alt.substep, fromRecommendation: false })), alt.reason ? ` — ${alt.reason}` : ''))));
    }
  }
  if (sessions.length > 1) {
    content.push(h('h3', {}, 'Other sessions you can resume'), h('ul', { class: 'resumable' }, sessions.slice(1, 10).map((s) =>
      h('li', {}, button(s.title || 'Untitled CV', go(s.deepLink, { sessionId: s.id, step: s.currentStep, substep: s.currentSubstep, fromRecommendation: false })), ` — ${where(s.currentStep)}, ${s.progress}% done, ${when(s.lastActiveAt)}`))));
  }
  content.push(h('div', { class: 'actions' }, button('Start a new CV', go('/new')), button('Close', () => dialog.close())));
  replace(dialog, h('div', { class: 'dialog-body' }, content));
  if (!dialog.open) dialog.showModal();
}
