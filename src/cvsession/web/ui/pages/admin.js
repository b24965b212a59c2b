// The metrics dashboard: the step funnel, resume success per day and the sync latency histogram,
// drawn as SVG from GET /metrics/summary (measured by the server, never hard-coded here).
// Signed in with the browser cookie it shows your own figures; an admin's bearer token (kept in
// this tab's sessionStorage only) shows everyone's.
import { api } from '../../lib/cvsession.js';
import { h, replace, button, toast, nextId } from '../dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const TOKEN_KEY = 'cvsession:admin-token';

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 1000) / 10}%`);
const ms = (x) => (x === null || x === undefined ? '—' : `${Math.round(x)} ms`);

/** Horizontal bars: rows of [label, value, text]; values scaled to the largest (or `max`). */
export function barChart(title, rows, { max, width = 560 } = {}) {
  const top = Math.max(max ?? 0, ...rows.map((r) => r[1]), 1e-9);
  const rowH = 26;
  const labelW = 150;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${rows.length * rowH + 8}`, role: 'img', 'aria-label': title, class: 'chart' });
  rows.forEach(([label, value, text], i) => {
    const y = i * rowH + 4;
    const w = Math.max(0, ((width - labelW - 70) * value) / top);
    chart.append(
      svg('text', { x: labelW - 8, y: y + 16, 'text-anchor': 'end', class: 'chart-label' }, label),
      svg('rect', { x: labelW, y, width: w, height: rowH - 8, rx: 3, class: 'chart-bar' }),
      svg('text', { x: labelW + w + 6, y: y + 16, class: 'chart-value' }, text),
    );
  });
  return h('figure', { class: 'chart-figure' }, h('figcaption', {}, title), chart);
}

/** Vertical bars over a category axis (days, latency buckets). */
export function columnChart(title, columns, { width = 560, height = 180 } = {}) {
  const top = Math.max(...columns.map((c) => c[1]), 1e-9);
  const gap = 4;
  const colW = Math.max(4, (width - 40) / Math.max(columns.length, 1) - gap);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height + 40}`, role: 'img', 'aria-label': title, class: 'chart' });
  columns.forEach(([label, value, text], i) => {
    const x = 30 + i * (colW + gap);
    const hgt = (height * value) / top;
    chart.append(
      svg('rect', { x, y: height - hgt + 4, width: colW, height: hgt, rx: 2, class: 'chart-bar' }, svg('title', {}, `${label}: ${text}`)),
      svg('text', { x: x + colW / 2, y: height + 20, 'text-anchor': 'middle', class: 'chart-axis' }, label),
    );
  });
  return h('figure', { class: 'chart-figure' }, h('figcaption', {}, title), chart);
}

function stat(label, value) {
  return h('div', { class: 'stat card' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label muted' }, label));
}

export async function renderAdmin(root, { catalogue }) {
  const tokenId = nextId('token');
  const tokenInput = h('input', { id: tokenId, type: 'password', autocomplete: 'off', value: sessionStorage.getItem(TOKEN_KEY) || '' });
  const body = h('div', { class: 'stack' }, h('p', { class: 'loading' }, 'Loading metrics…'));
  const load = async () => {
    const token = tokenInput.value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    try {
      const summary = await api.get('/metrics/summary', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      replace(body, ...view(summary, catalogue));
    } catch (err) {
      replace(body, h('p', { class: 'error-text' }, err.status === 0 ? 'You are offline.' : err.message || err.title));
    }
  };
  const form = h('form', { class: 'actions' },
    h('label', { for: tokenId }, 'Admin token (optional)'), tokenInput, h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (e) => { e.preventDefault(); load().catch((err) => toast(String(err), 'error')); });
  replace(root, h('section', { class: 'admin', dataset: { page: 'admin' } },
    h('h1', {}, 'Metrics'),
    h('p', { class: 'lead' }, 'Measured from what really happened: sessions, resumes, sync and processing.'),
    form, body, h('div', { class: 'actions' }, button('Refresh', () => load()))));
  await load();
}

function view(s, catalogue) {
  const titles = Object.fromEntries((catalogue?.steps || []).map((st) => [st.id, st.title]));
  const out = [h('p', { class: 'muted', dataset: { scope: s.scope } }, s.scope === 'global' ? 'Everyone.' : 'Your sessions only.')];
  out.push(h('div', { class: 'grid stats' },
    stat('sessions created', String(s.sessions.created)),
    stat('completed', String(s.sessions.completed)),
    stat('abandoned', String(s.sessions.abandoned)),
    stat('resume success', pct(s.resume.successRate)),
    stat('time to resume p50 / p95', `${ms(s.resume.timeToResumeMs?.p50)} / ${ms(s.resume.timeToResumeMs?.p95)}`),
    stat('sync reliability', pct(s.sync.reliability)),
    stat('conflicts', String(s.sync.conflicts)),
    stat('most common exit step', titles[s.mostCommonExitStep] || s.mostCommonExitStep || '—')));
  const funnel = (s.funnel?.steps || []).map((st) => [titles[st.step] || st.step, st.rate || 0, `${st.completed} (${pct(st.rate)})`]);
  out.push(barChart(`Step funnel — of ${s.funnel?.cohort ?? 0} sessions created, how many completed each step`, funnel, { max: 1 }));
  const daily = (s.resume?.daily || []).map((d) => [d.day.slice(5), d.successRate ?? 0, `${pct(d.successRate)} of ${d.offered}`]);
  out.push(daily.length ? columnChart('Resume success per day', daily) : h('p', { class: 'muted' }, 'No resumes offered yet.'));
  const hist = s.propagation?.histogram;
  if (hist && hist.counts?.length) {
    const labels = [...hist.boundsMs.map((b) => `≤${b}`), `>${hist.boundsMs.at(-1)}`];
    out.push(columnChart(`Sync propagation latency (this server, ms) — p50 ${ms(s.propagation.p50Ms)}, p99 ${ms(s.propagation.p99Ms)}`,
      hist.counts.map((c, i) => [labels[i], c, String(c)])));
  } else {
    out.push(h('p', { class: 'muted' }, 'Sync latency is per server process and shown to admins.'));
  }
  return out;
}
