// Step 8 (optional): paste a job description, see the keywords the CV misses, add them.
import { h, replace, button, toast, nextId } from '../dom.js';
import { boundField, validators, fieldValue } from '../forms.js';
import { substepSections, completeAndGo } from '../steps.js';

export function mount(ctx) {
  const { session, api } = ctx;
  const jd = boundField(session, 'keywords', 'jobDescription', {
    label: 'Job description', rows: 8, rules: [validators.maxLength(20000)], initial: session.state.target?.jobDescription || '',
    help: 'Paste the advert you are applying for.',
  });
  const result = h('div', { class: 'stack', role: 'status', 'aria-live': 'polite' });
  const picks = h('fieldset', { class: 'keyword-picks' });
  let ats = null;

  async function analyse() {
    await session.flush();
    const text = String(fieldValue(session, session.state, 'keywords', 'jobDescription', '') || '');
    try {
      ats = await api.post(`/api/sessions/${session.id}/analysis/keywords`, { jobDescription: text });
      await ctx.mutate('target.set', { jobDescription: text.slice(0, 20000) });
      await ctx.mutate('substep.complete', { step: 'keywords', substep: 'keywords-review' });
      render();
    } catch (err) {
      toast(err.status === 0 ? 'You are offline: the analysis needs the network. Your text is saved.' : err.message, 'error');
    }
  }

  async function apply() {
    const chosen = [...picks.querySelectorAll('input[type=checkbox]:checked')].map((i) => i.value);
    if (!chosen.length) {
      toast('Choose at least one keyword to add.');
      return;
    }
    const skills = Array.isArray(session.state.cv?.skills) ? session.state.cv.skills : [];
    const have = new Set(skills.map((s) => String(s?.name || '').toLowerCase()));
    const added = chosen.filter((k) => !have.has(k.toLowerCase())).map((k) => ({ name: k }));
    await ctx.mutate('cv.setField', { path: '/skills', value: [...skills, ...added] });
    await ctx.mutate('substep.complete', { step: 'keywords', substep: 'keywords-optimize', data: { chosen: chosen.slice(0, 100) } });
    await ctx.mutate('substep.complete', { step: 'keywords', substep: 'keywords-apply', data: { added: added.length } });
    toast(`Added ${added.length} keyword${added.length === 1 ? '' : 's'} to your skills.`);
    await analyse();
  }

  function render() {
    if (!ats) {
      replace(result, h('p', { class: 'muted' }, 'Paste a job description and press “Find missing keywords”.'));
      replace(picks);
      return;
    }
    replace(result,
      h('p', {}, h('strong', {}, `Match: ${ats.score}%`), ` — ${ats.matched.length} of ${ats.keywords.length} keywords found.`),
      ats.matched.length ? h('p', {}, 'Already in your CV: ', ats.matched.join(', ')) : null);
    replace(picks, h('legend', {}, ats.missing.length ? 'Missing keywords: choose the ones that are true of you' : 'No keywords missing.'),
      ats.missing.map((k) => {
        const id = nextId('kw');
        return h('div', { class: 'field checkbox' }, h('input', { type: 'checkbox', id, value: k }), h('label', { for: id }, k));
      }));
  }

  const page = substepSections(ctx, null, {
    'keywords-review': h('div', { class: 'stack' }, jd.el, h('div', { class: 'actions' }, button('Find missing keywords', analyse, { class: 'primary' })), result),
    'keywords-optimize': picks,
    'keywords-apply': h('div', { class: 'actions' },
      button('Add the chosen keywords', apply, { class: 'primary' }),
      button('Skip this step', async () => { await ctx.mutate('step.skip', { step: 'keywords' }); ctx.go('completed'); }),
      button('Done: finish', async () => { await completeAndGo(ctx, 'completed'); })),
  });
  render();

  return {
    el: page.el,
    setSubstep: page.setSubstep,
    update(state) {
      page.updateStatuses(state);
      jd.update(state);
    },
  };
}
