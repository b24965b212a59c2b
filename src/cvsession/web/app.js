// The web app: a router over /, /new, /sessions and /session/{id}/{step}/{substep}, the
// session-aware shell, and one page module per workflow step (ui/pages/<step>.js).
import { api, ensureIdentity, openSession, ApiError } from './lib/cvsession.js';
import { h, replace, toast, button } from './ui/dom.js';
import * as shell from './ui/shell.js';
import { renderHome, renderNew, renderPair } from './ui/pages/home.js';
import { renderAdmin } from './ui/pages/admin.js';
import { loadFlags, report, watchOfflineReplay } from './ui/signals.js';

const PAGES = {
  upload: () => import('./ui/pages/upload.js'),
  processing: () => import('./ui/pages/processing.js'),
  analysis: () => import('./ui/pages/analysis.js'),
  features: () => import('./ui/pages/features.js'),
  templates: () => import('./ui/pages/templates.js'),
  preview: () => import('./ui/pages/preview.js'),
  results: () => import('./ui/pages/results.js'),
  keywords: () => import('./ui/pages/keywords.js'),
  completed: () => import('./ui/pages/completed.js'),
};

const $ = (id) => document.getElementById(id);
const app = {
  catalogue: null,
  flags: {}, // feature flags for this user (GET /api/flags)
  session: null, // the open SessionHandle
  route: null,
  page: null, // {el, update, unmount}
  pageKey: '',
  unsubscribe: [],
};
window.cvsessionApp = app; // for tests and debugging: read-only use

function deviceLabel() {
  const key = 'cvsession:device';
  let label = localStorage.getItem(key);
  if (!label) {
    const ua = navigator.userAgent;
    const kind = /Mobi|Android|iPhone/.test(ua) ? 'Phone' : 'Computer';
    const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom/.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
    label = `${browser} on ${kind} ${Math.random().toString(36).slice(2, 6)}`;
    localStorage.setItem(key, label);
  }
  return label;
}

// The catalogue changes only with a deploy: use the cached copy at once (refreshed in the
// background for next time) so a returning visit does not wait for it.
async function loadCatalogue() {
  const key = 'cvsession:catalogue';
  const fetched = api.get('/api/catalogue').then((fresh) => {
    localStorage.setItem(key, JSON.stringify(fresh));
    return fresh;
  });
  let cat = null;
  try {
    cat = JSON.parse(localStorage.getItem(key) || 'null');
  } catch { /* a corrupt copy is replaced by the fetched one */ }
  if (cat && Array.isArray(cat.steps)) fetched.catch(() => {});
  else cat = await fetched;
  return indexCatalogue(cat);
}

function indexCatalogue(cat) {
  cat.stepsById = Object.fromEntries(cat.steps.map((s) => [s.id, s]));
  cat.featuresById = Object.fromEntries(cat.features.map((f) => [f.id, f]));
  cat.templatesById = Object.fromEntries(cat.templates.map((t) => [t.id, t]));
  return cat;
}

// A session never opened on this device has no cached state until the server's first patch.
function firstState(s, timeoutMs = 15000) {
  if (s.state || s.notFound) return Promise.resolve();
  return new Promise((resolve) => {
    const offs = [];
    const done = () => { offs.forEach((off) => off()); clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, timeoutMs);
    offs.push(s.on('change', () => { if (s.state) done(); }), s.on('notfound', done));
  });
}

export function parseRoute(pathname) {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { kind: 'home' };
  if (parts[0] === 'new' && parts.length === 1) return { kind: 'new' };
  if (parts[0] === 'sessions' && parts.length === 1) return { kind: 'home', list: true };
  if (parts[0] === 'pair' && parts.length === 1) return { kind: 'pair' };
  if (parts[0] === 'admin' && parts.length === 1) return { kind: 'admin' };
  if (parts[0] === 'session' && parts.length >= 2 && parts.length <= 4) {
    return { kind: 'session', id: parts[1], step: parts[2] || null, substep: parts[3] || null };
  }
  return { kind: 'notfound' };
}

export function navigate(url, { replace: replaceHistory = false } = {}) {
  if (url === location.pathname + location.search) {
    route();
    return;
  }
  if (replaceHistory) history.replaceState({}, '', url);
  else history.pushState({}, '', url);
  route();
}

function clearShell() {
  for (const off of app.unsubscribe) off();
  app.unsubscribe = [];
  replace($('progress'));
  replace($('breadcrumbs'));
  replace($('save-status'));
  replace($('presence'));
  replace($('session-title'));
  $('conflicts').hidden = true;
}

async function closeSession() {
  clearShell();
  if (app.page?.unmount) app.page.unmount();
  app.page = null;
  app.pageKey = '';
  if (app.session) {
    const s = app.session;
    app.session = null;
    await s.close();
  }
}

function notFoundPage(message = 'This page does not exist, or it belongs to someone else.') {
  document.title = 'Not found — cvsession';
  replace($('page'), h('section', { class: 'not-found', dataset: { notFound: '1' } },
    h('h1', {}, 'Not found'), h('p', {}, message), h('p', {}, h('a', { href: '/', dataset: { route: '1' } }, 'Go to your CVs'))));
}

function prerequisitePage(step, missing) {
  const cat = app.catalogue;
  const reason = shell.prerequisiteReason(cat, step, missing);
  replace($('page'), h('section', { class: 'locked', dataset: { locked: step } },
    h('h1', {}, cat.stepsById[step].title),
    h('p', { class: 'lead' }, reason),
    h('p', {}, 'Finish these first:'),
    h('ul', {}, missing.map((m) => h('li', {}, h('a', { href: shell.stepUrl(app.session.id, m), dataset: { route: '1' } }, cat.stepsById[m].title), ` — ${cat.stepsById[m].description}`)))));
}

function pageContext(step, substep) {
  const session = app.session;
  return {
    session,
    catalogue: app.catalogue,
    flags: app.flags,
    step,
    substep,
    api,
    go: (s, sub) => navigate(shell.stepUrl(session.id, s, sub)),
    // Mutations from the UI: local-first; a refusal arrives later as an 'error' event.
    mutate: (name, args) => session.mutate(name, args).catch((err) => toast(err.message || String(err), 'error')),
  };
}

function renderSessionChrome() {
  const s = app.session;
  if (!s) return;
  const state = s.state;
  shell.renderProgress($('progress'), app.catalogue, state, app.route);
  shell.renderBreadcrumbs($('breadcrumbs'), app.catalogue, state, app.route);
  replace($('session-title'), state.title || 'Untitled CV', state.status === 'paused' ? h('span', { class: 'tag' }, 'paused') : null);
}

async function showStep(routeInfo, { fromHistory }) {
  const s = app.session;
  const cat = app.catalogue;
  let { step, substep } = routeInfo;
  if (!step) {
    step = s.state.currentStep || 'upload';
    substep = s.state.currentSubstep || null;
    history.replaceState({}, '', shell.stepUrl(s.id, step, substep));
  }
  if (!cat.stepsById[step] || (substep && !cat.stepsById[step].substeps.includes(substep))) {
    notFoundPage('There is no such step.');
    return;
  }
  app.route = { kind: 'session', id: s.id, step, substep };
  renderSessionChrome();
  s.setPresence(step, substep);
  const missing = shell.missingPrerequisites(cat, s.state, step);
  if (missing.length && s.state.status !== 'completed') {
    app.page = null;
    app.pageKey = `locked:${step}`;
    prerequisitePage(step, missing);
    return;
  }
  // Entering a step (or moving to a substep) is recorded so resume knows where the user was.
  const current = s.state.currentStep === step && (!substep || s.state.currentSubstep === substep);
  if (!current && s.state.status !== 'completed' && s.state.status !== 'expired') {
    s.mutate('step.enter', substep ? { step, substep } : { step }).catch(() => {});
  }
  const key = `${step}`;
  if (app.pageKey !== key || !app.page) {
    if (app.page?.unmount) app.page.unmount();
    const mod = await PAGES[step]();
    if (app.session !== s) return; // navigated away meanwhile
    app.page = mod.mount(pageContext(step, substep));
    app.pageKey = key;
    document.title = `${cat.stepsById[step].title} — ${s.state.title || 'cvsession'}`;
    replace($('page'), app.page.el);
    if (!fromHistory) $('page').focus({ preventScroll: true });
  } else if (app.page.setSubstep) {
    app.page.setSubstep(substep);
  }
  app.page.update(s.state, { substep });
}

async function route(opts = {}) {
  const r = parseRoute(location.pathname);
  try {
    if (r.kind !== 'session' || (app.session && app.session.id !== r.id)) await closeSession();
    if (r.kind === 'home') {
      app.route = r;
      document.title = 'Your CVs — cvsession';
      await renderHome($('page'), { navigate, resumeDialog: $('resume-dialog'), showList: Boolean(r.list), catalogue: app.catalogue, flags: app.flags });
      return;
    }
    if (r.kind === 'new') {
      app.route = r;
      document.title = 'New CV — cvsession';
      renderNew($('page'), { navigate, catalogue: app.catalogue });
      return;
    }
    if (r.kind === 'admin') {
      app.route = r;
      document.title = 'Metrics — cvsession';
      await renderAdmin($('page'), { catalogue: app.catalogue });
      return;
    }
    if (r.kind === 'pair') {
      app.route = r;
      document.title = 'Continue on this device — cvsession';
      renderPair($('page'), { navigate });
      return;
    }
    if (r.kind === 'notfound') {
      notFoundPage();
      return;
    }
    if (!app.session) {
      const started = opts.started ?? performance.now();
      if (!app.flags.offline && navigator.onLine === false) {
        replace($('page'), h('section', { class: 'error' }, h('h1', {}, 'You are offline'),
          h('p', {}, 'Your session opens as soon as you are back online.'), button('Try again', () => route())));
        return;
      }
      replace($('page'), h('p', { class: 'loading' }, 'Opening your session…'));
      const s = await openSession(r.id, { device: deviceLabel() });
      await firstState(s);
      if (!s.notFound && !s.state) {
        await s.close();
        replace($('page'), h('section', { class: 'error' }, h('h1', {}, 'Not available offline yet'),
          h('p', {}, 'This session has not been opened on this device before, and the server cannot be reached. It opens as soon as you are back online.'),
          button('Try again', () => route())));
        return;
      }
      if (s.notFound) {
        await s.close();
        notFoundPage();
        return;
      }
      app.session = s;
      const rerender = () => {
        if (app.session !== s) return;
        renderSessionChrome();
        if (app.route?.kind === 'session') {
          const missing = shell.missingPrerequisites(app.catalogue, s.state, app.route.step);
          if (app.pageKey.startsWith('locked:') && !missing.length) showStep(app.route, { fromHistory: true });
          else if (app.page) app.page.update(s.state, { substep: app.route.substep });
        }
      };
      app.unsubscribe.push(
        s.on('change', rerender),
        s.on('status', () => shell.renderStatus($('save-status'), s)),
        s.on('presence', () => shell.renderPresence($('presence'), s)),
        s.on('conflicts', () => shell.renderConflicts($('conflicts'), s)),
        s.on('error', (e) => toast(e.message || e.code || 'The server refused a change.', 'error')),
        s.on('notfound', () => notFoundPage()),
      );
      app.unsubscribe.push(watchOfflineReplay(s));
      shell.renderStatus($('save-status'), s);
      shell.renderPresence($('presence'), s);
      shell.renderConflicts($('conflicts'), s);
      await showStep(r, opts);
      // How long it took from navigation to the restored session on screen (resume metrics).
      if (app.session === s && app.route?.step && app.catalogue.stepsById[app.route.step]) {
        report('resume.restored', s.id, { ms: Math.round(performance.now() - started), step: app.route.step, intact: Boolean(s.state) && !s.notFound });
      }
      return;
    }
    await showStep(r, opts);
  } catch (err) {
    console.error(err);
    if (err instanceof ApiError && err.status === 404) notFoundPage();
    else replace($('page'), h('section', { class: 'error' }, h('h1', {}, 'Something went wrong'), h('p', {}, err.message || String(err)), button('Try again', () => route())));
  }
}

// Links marked data-route navigate inside the app (back/forward then move between steps).
document.addEventListener('click', (event) => {
  const a = event.target.closest('a[data-route]');
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  navigate(url.pathname);
});
window.addEventListener('popstate', () => route({ fromHistory: true }));
// A page hidden (tab closed, app switched) saves its drafts now rather than after the debounce.
window.addEventListener('pagehide', () => { app.session?.flush(); });
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') app.session?.flush(); });

async function start() {
  // Identity, catalogue and the step's page module load side by side, not one after another.
  const first = parseRoute(location.pathname);
  if (first.kind === 'session' && PAGES[first.step]) PAGES[first.step]().catch(() => {});
  const identity = ensureIdentity().catch((err) => {
    if (!(err instanceof ApiError && err.status === 0)) throw err; // offline: IndexedDB still has the session
  });
  const catalogue = loadCatalogue();
  await identity;
  const flags = loadFlags();
  app.catalogue = await catalogue;
  app.flags = await flags;
  await route({ started: 0 }); // a cold load counts from navigation start
  if ('serviceWorker' in navigator && !app.flags.offline) {
    // Offline switched off for this user: no shell cache (edits still queue; nothing is lost).
    navigator.serviceWorker.getRegistrations().then((regs) => regs.forEach((reg) => reg.unregister())).catch(() => {});
  } else if ('serviceWorker' in navigator) {
    // After the first render: installing (and precaching) must not compete with it.
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((err) => console.warn('service worker:', err));
  }
  document.documentElement.dataset.ready = '1';
}

start().catch((err) => {
  console.error(err);
  replace($('page'), h('section', { class: 'error' }, h('h1', {}, 'cvsession could not start'), h('p', {}, err.message || String(err))));
});
