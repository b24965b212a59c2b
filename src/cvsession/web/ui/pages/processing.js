// Step 2: live per-phase progress of the CV pipeline from the session's checkpoints (they
// arrive as patches, so every tab and device sees the same progress), with pause / resume /
// cancel and retry.
import { h, replace, button, toast, dig } from '../dom.js';
import { substepSections } from '../steps.js';

const PHASES = [
  { id: 'extract', title: 'Extract the text', substep: 'text-extract' },
  { id: 'parse', title: 'Parse into sections', substep: 'ai-analysis' },
  { id: 'analyse', title: 'Analyse keywords and improvements', substep: 'structure-parse' },
  { id: 'generate', title: 'Generate features and layouts', substep: 'structure-parse' },
];
const FINAL = new Set(['completed', 'failed', 'cancelled']);

export function latestJob(state, type = 'cv-processing') {
  const jobs = Object.values(dig(state, 'processing', 'jobs') || {}).filter((j) => j.type === type);
  jobs.sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)));
  return jobs.at(-1) || null;
}

function summary(partial) {
  if (partial === null || partial === undefined) return '';
  if (typeof partial === 'string') return partial;
  if (typeof partial === 'object') {
    const bits = [];
    for (const [k, v] of Object.entries(partial).slice(0, 6)) {
      if (v === null || typeof v === 'object') continue;
      bits.push(`${k}: ${v}`);
    }
    return bits.join(' · ');
  }
  return String(partial);
}

export function mount(ctx) {
  const { session, api } = ctx;
  const jobBox = h('div', { class: 'job card', role: 'status', 'aria-live': 'polite' });
  const rows = {};
  const bySubstep = {};
  for (const p of PHASES) {
    const bar = h('progress', { max: 100, value: 0, 'aria-label': `${p.title} progress` });
    const state = h('span', { class: 'tag' }, 'pending');
    const detail = h('div', { class: 'muted phase-detail' });
    rows[p.id] = { bar, state, detail };
    const item = h('li', { class: 'phase', dataset: { phase: p.id } }, h('div', { class: 'phase-head' }, h('strong', {}, p.title), ' ', state), bar, detail);
    (bySubstep[p.substep] ||= h('ol', { class: 'phases' })).appendChild(item);
  }
  const controls = h('div', { class: 'actions' });
  let acting = false;
  let finishedFor = null;

  async function control(job, command) {
    if (acting) return;
    acting = true;
    try {
      await api.post(`/api/sessions/${session.id}/jobs/${job.id}/${command}`, {});
    } catch (err) {
      toast(err.status === 0 ? 'You are offline: try again when you are back online.' : err.message, 'error');
    } finally {
      acting = false;
    }
  }

  async function retry() {
    const uploadId = dig(session.state, 'steps', 'upload', 'substeps', 'file-upload', 'data', 'uploadId');
    if (!uploadId) {
      ctx.go('upload', 'file-select');
      return;
    }
    try {
      await api.post(`/api/sessions/${session.id}/uploads/${uploadId}/process`, {});
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  // The pipeline's phases map onto the step's substeps; the job's completion completes the step
  // on the server (server.stepDone); this covers jobs that completed before that existed.
  function recordCompletion(state, job) {
    if (!job || job.status !== 'completed' || finishedFor === job.id) return;
    finishedFor = job.id;
    if (dig(state, 'steps', 'processing', 'status') === 'completed') return;
    ctx.mutate('step.complete', { step: 'processing' });
  }

  const page = substepSections(ctx, h('div', { class: 'stack' }, jobBox, controls), bySubstep);

  function update(state) {
    page.updateStatuses(state);
    const job = latestJob(state);
    const checkpoints = dig(state, 'processing', 'checkpoints') || {};
    for (const p of PHASES) {
      const cp = checkpoints[p.id] || {};
      const r = rows[p.id];
      r.bar.value = cp.progress || 0;
      r.state.textContent = (cp.state || 'pending').replace('_', ' ');
      r.state.className = `tag tag-${cp.state || 'pending'}`;
      const bits = [summary(cp.partialResult)];
      if (cp.retryCount) bits.push(`retried ${cp.retryCount}×`);
      if (cp.fallbackUsed) bits.push(`fallback: ${cp.fallbackUsed === true ? 'rule-based parser' : cp.fallbackUsed}`);
      if (cp.lastError) bits.push(`last error: ${typeof cp.lastError === 'string' ? cp.lastError : cp.lastError.message || JSON.stringify(cp.lastError)}`);
      r.detail.textContent = bits.filter(Boolean).join(' · ');
    }
    if (!job) {
      replace(jobBox, h('p', {}, 'No processing has started yet. ', h('a', { href: `/session/${session.id}/upload`, dataset: { route: '1' } }, 'Upload your CV'), ' first.'));
      replace(controls);
      return;
    }
    const eta = job.estimatedDurationMs && !FINAL.has(job.status) ? ` · usually takes about ${Math.max(1, Math.round(job.estimatedDurationMs / 1000))} s` : '';
    replace(jobBox,
      h('p', { class: 'job-status', dataset: { status: job.status, progress: String(job.progress) } },
        h('strong', {}, `Processing: ${job.status.replace('_', ' ')}`), ` — ${job.progress}%`, job.phase ? ` · ${job.phase}` : '', eta),
      h('progress', { max: 100, value: job.progress, 'aria-label': 'Overall processing progress' }),
      job.error ? h('p', { class: 'error-text' }, `Error${job.error.code ? ` (${job.error.code})` : ''}: ${job.error.message || JSON.stringify(job.error)}`) : null);
    const buttons = [];
    if (job.status === 'running' || job.status === 'queued' || job.status === 'pending') buttons.push(button('Pause', () => control(job, 'pause')));
    if (job.status === 'paused') buttons.push(button('Resume', () => control(job, 'resume'), { class: 'primary' }));
    if (!FINAL.has(job.status)) buttons.push(button('Cancel', () => control(job, 'cancel')));
    if (job.status === 'failed' || job.status === 'cancelled') buttons.push(button('Retry', retry, { class: 'primary' }));
    if (job.status === 'completed') buttons.push(button('Continue to analysis', () => ctx.go('analysis'), { class: 'primary' }));
    replace(controls, buttons);
    recordCompletion(state, job);
  }

  return { el: page.el, setSubstep: page.setSubstep, update };
}
