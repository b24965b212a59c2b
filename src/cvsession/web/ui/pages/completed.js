// Step 9: confirm, and a summary of the journey.
import { h, replace, button } from '../dom.js';
import { substepSections } from '../steps.js';

function duration(ms) {
  const minutes = Math.round((ms || 0) / 60000);
  return minutes < 1 ? 'under a minute' : `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

export function mount(ctx) {
  const { session, catalogue } = ctx;
  const summary = h('div', { class: 'stack' });
  const confirm = button('Mark my CV as complete', async () => {
    await ctx.mutate('step.complete', { step: 'completed' });
  }, { class: 'primary' });
  const page = substepSections(ctx, null, { 'completion-confirm': h('div', { class: 'stack' }, summary, h('div', { class: 'actions' }, confirm)) });

  return {
    el: page.el,
    setSubstep: page.setSubstep,
    update(state) {
      page.updateStatuses(state);
      const done = state.status === 'completed';
      confirm.disabled = done;
      confirm.textContent = done ? 'Completed' : 'Mark my CV as complete';
      const total = catalogue.steps.reduce((sum, s) => sum + (state.steps?.[s.id]?.timeSpentMs || 0), 0);
      replace(summary,
        done ? h('p', { class: 'lead success' }, 'Your CV is complete. Well done!') : h('p', {}, 'Everything is in place. Confirm to finish; you can still download your CV afterwards.'),
        h('ul', {}, catalogue.steps.map((s) => h('li', {}, `${s.title}: ${(state.steps?.[s.id]?.status || 'pending').replace('_', ' ')}`, state.steps?.[s.id]?.timeSpentMs ? ` (${duration(state.steps[s.id].timeSpentMs)})` : ''))),
        h('p', {}, `Time spent in all: ${duration(total)}.`),
        h('p', {}, h('a', { href: `/session/${session.id}/results/results-download`, dataset: { route: '1' } }, 'Downloads'), ' · ', h('a', { href: '/', dataset: { route: '1' } }, 'All my CVs')));
    },
  };
}
