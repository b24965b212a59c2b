// Step 6: generate the CV with the chosen features and template (a background job whose
// progress arrives with the session), review it, approve it.
import { h, replace, button, toast, dig } from '../dom.js';
import { substepSections, completeAndGo } from '../steps.js';
import { latestJob } from './processing.js';

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export function mount(ctx) {
  const { session, api } = ctx;
  const status = h('div', { class: 'job card', role: 'status', 'aria-live': 'polite' });
  const frameBox = h('div', { class: 'preview-frame' });
  const generate = button('Generate my CV', () => submit(), { class: 'primary' });
  const approve = button('Approve and continue', () => approveCv(), { class: 'primary' });
  let shownFor = null;
  let submitting = false;

  async function submit() {
    if (submitting) return;
    const template = dig(session.state, 'template', 'selected') || 'modern';
    submitting = true;
    generate.disabled = true;
    try {
      await session.flush();
      await api.post(`/api/sessions/${session.id}/jobs`, { type: 'template-application', template });
      ctx.mutate('substep.start', { step: 'preview', substep: 'cv-generate' });
    } catch (err) {
      toast(err.status === 0 ? 'You are offline: generating needs the network.' : err.message, 'error');
    } finally {
      submitting = false;
      generate.disabled = false;
    }
  }

  // The job's own HTML artifact, shown inline; sandbox without allow-scripts: shown, never run.
  async function showArtifact(job, template) {
    let src = `/api/sessions/${session.id}/download/html?template=${encodeURIComponent(template)}`;
    try {
      const { artifacts } = await api.get(`/api/sessions/${session.id}/artifacts`);
      const mine = artifacts.filter((a) => a.jobId === job.id && a.name === `cv-${template}.html`).at(-1);
      if (mine) src = mine.url;
    } catch { /* offline: the download link still works once online */ }
    const reviewed = () => {
      if (dig(session.state, 'steps', 'preview', 'substeps', 'cv-review', 'status') !== 'completed') {
        ctx.mutate('substep.complete', { step: 'preview', substep: 'cv-review' });
      }
    };
    replace(frameBox, h('iframe', { src, title: 'Your generated CV', sandbox: '', class: 'cv-frame', onload: reviewed }),
      h('p', {}, h('a', { href: src, target: '_blank', rel: 'noopener' }, 'Open in a new tab')));
  }

  async function approveCv() {
    await ctx.mutate('substep.complete', { step: 'preview', substep: 'cv-approve' });
    await completeAndGo(ctx, 'results');
  }

  const page = substepSections(ctx, null, {
    'cv-generate': h('div', { class: 'stack' }, status, h('div', { class: 'actions' }, generate)),
    'cv-review': frameBox,
    'cv-approve': h('div', { class: 'stack' }, h('p', {}, 'Happy with it? Approving unlocks the downloads.'), h('div', { class: 'actions' }, approve)),
  });

  function update(state) {
    page.updateStatuses(state);
    const job = latestJob(state, 'template-application');
    const template = dig(state, 'template', 'selected') || 'modern';
    if (!job) {
      replace(status, h('p', {}, `Template: ${ctx.catalogue.templatesById[template]?.title || template}. Press “Generate my CV” to build it with your features and customisations.`));
    } else {
      replace(status,
        h('p', { class: 'job-status', dataset: { status: job.status } }, h('strong', {}, `Generating: ${job.status}`), ` — ${job.progress}%`),
        h('progress', { max: 100, value: job.progress, 'aria-label': 'Generation progress' }),
        job.error ? h('p', { class: 'error-text' }, job.error.message || JSON.stringify(job.error)) : null);
    }
    generate.textContent = job && FINAL.has(job.status) ? 'Generate again' : 'Generate my CV';
    generate.disabled = Boolean(job && !FINAL.has(job.status));
    approve.disabled = !(job && job.status === 'completed');
    if (job && job.status === 'completed' && shownFor !== job.id) {
      shownFor = job.id;
      showArtifact(job, template);
      if (dig(state, 'steps', 'preview', 'substeps', 'cv-generate', 'status') !== 'completed') {
        ctx.mutate('substep.complete', { step: 'preview', substep: 'cv-generate' });
      }
    } else if (!job || job.status !== 'completed') {
      if (shownFor === null) replace(frameBox, h('p', { class: 'muted' }, 'Your CV appears here once it is generated.'));
    }
  }

  return { el: page.el, setSubstep: page.setSubstep, update };
}
