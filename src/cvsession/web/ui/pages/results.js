// Step 7: what was produced, the downloads, and a way to continue on another device.
import { h, replace, button, toast, dig, when } from '../dom.js';
import { substepSections, completeAndGo } from '../steps.js';

export function mount(ctx) {
  const { session, api, catalogue } = ctx;
  const summaryBox = h('div', { class: 'stack' });
  const downloads = h('ul', { class: 'downloads' });
  const shareBox = h('div', { class: 'stack' });
  const base = `/api/sessions/${session.id}/download`;

  function link(href, label, file) {
    return h('a', { href, download: file, class: 'button-link', onclick: () => ctx.mutate('substep.complete', { step: 'results', substep: 'results-download' }) }, label);
  }

  async function pair() {
    try {
      const res = await api.post('/api/pairing', {});
      const next = `/session/${session.id}/${session.state.currentStep || 'results'}`;
      const url = `${location.origin}/pair?code=${encodeURIComponent(res.code)}&next=${encodeURIComponent(next)}`;
      replace(shareBox,
        h('p', {}, 'On your other device, open this address (valid for 10 minutes, once):'),
        h('p', {}, h('code', { class: 'pair-url' }, url)),
        h('p', {}, 'or open ', h('code', {}, `${location.origin}/pair`), ' and enter the code ', h('strong', { class: 'pair-code' }, res.code), '.'),
        h('p', { class: 'muted' }, `Expires ${when(res.expiresAt)}.`));
      ctx.mutate('substep.complete', { step: 'results', substep: 'results-share' });
    } catch (err) {
      toast(err.status === 0 ? 'You are offline: pairing needs the network.' : err.message, 'error');
    }
  }

  const page = substepSections(ctx, null, {
    'results-display': summaryBox,
    'results-download': downloads,
    'results-share': ctx.flags?.['cross-device-sync'] === false
      ? h('p', { class: 'muted' }, 'Continuing on another device is not available for your account yet.')
      : h('div', { class: 'stack' },
        h('p', {}, 'Continue on your phone or another computer: everything you did comes with you.'),
        h('div', { class: 'actions' }, button('Continue on another device', pair)), shareBox),
  });
  const next = h('div', { class: 'actions' },
    button('Optimise keywords', async () => { await completeAndGo(ctx, 'keywords'); }),
    button('Finish', async () => { await completeAndGo(ctx, null); ctx.go('completed'); }, { class: 'primary' }));
  page.el.appendChild(next);

  function update(state) {
    page.updateStatuses(state);
    const selected = dig(state, 'template', 'selected') || 'modern';
    const enabled = Object.entries(state.features || {}).filter(([, f]) => f?.enabled).map(([id]) => catalogue.featuresById[id]?.title || id);
    const ats = dig(state, 'processing', 'checkpoints', 'analyse', 'partialResult', 'ats');
    replace(summaryBox,
      h('p', {}, `Template: ${catalogue.templatesById[selected]?.title || selected}.`),
      h('p', {}, `Features: ${enabled.length ? enabled.join(', ') : 'none'}.`),
      ats && ats.keywords?.length ? h('p', {}, `Keyword match: ${ats.score}%.`) : null);
    replace(downloads,
      catalogue.templates.map((t) => h('li', {}, link(`${base}/html?template=${t.id}`, `${t.title} (HTML)`, `cv-${t.id}.html`), t.id === selected ? h('span', { class: 'tag' }, 'your choice') : null)),
      h('li', {}, link(`${base}/json`, 'JSON Resume', 'resume.json')));
  }

  return { el: page.el, setSubstep: page.setSubstep, update };
}
