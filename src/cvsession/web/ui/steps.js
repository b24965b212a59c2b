// A step page laid out as one section per substep: each has a heading that links to its own
// URL, and the substep in the URL is highlighted and scrolled into view.
import { h, nextId } from './dom.js';
import { stepUrl } from './shell.js';

/**
 * Build the page: title, lead, `intro`, then a section per substep holding `bodies[sub]`.
 * Returns {el, sections: {sub: {el, body, link, status}}, setSubstep(sub), updateStatuses(state)}.
 */
export function substepSections(ctx, intro, bodies = {}) {
  const def = ctx.catalogue.stepsById[ctx.step];
  const sections = {};
  def.substeps.forEach((sub, i) => {
    const headingId = nextId('sub');
    const link = h('a', { href: stepUrl(ctx.session.id, ctx.step, sub), dataset: { route: '1' } }, `${i + 1}. ${def.substepTitles?.[sub] || sub}`);
    const status = h('span', { class: 'tag substep-status' });
    const body = h('div', { class: 'substep-body' }, bodies[sub] || null);
    const el = h('section', { class: 'substep', id: `substep-${sub}`, 'aria-labelledby': headingId, dataset: { substep: sub } },
      h('h2', { id: headingId }, link, ' ', status), body);
    sections[sub] = { el, body, link, status };
  });
  const el = h('section', { class: `step-page step-page-${ctx.step}`, dataset: { page: ctx.step } },
    h('h1', {}, def.title),
    h('p', { class: 'lead' }, def.description),
    intro || null,
    Object.values(sections).map((s) => s.el));

  let current = null;
  let scrollPending = false;
  function setSubstep(sub) {
    if (sub !== current) scrollPending = Boolean(sub);
    current = sub;
    for (const [name, s] of Object.entries(sections)) {
      s.el.classList.toggle('is-current', name === sub);
      if (name === sub) s.link.setAttribute('aria-current', 'location');
      else s.link.removeAttribute('aria-current');
    }
    if (scrollPending && sections[sub]) {
      // The page is attached after mount: scroll on the next frame, once it is in the document.
      requestAnimationFrame(() => {
        if (!scrollPending || !sections[sub].el.isConnected) return;
        scrollPending = false;
        const reduce = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
        sections[sub].el.scrollIntoView({ block: 'start', behavior: reduce ? 'auto' : 'smooth' });
      });
    }
  }

  function updateStatuses(state) {
    for (const [id, { status }] of Object.entries(sections)) {
      const st = state?.steps?.[ctx.step]?.substeps?.[id]?.status || 'pending';
      status.textContent = st.replace('_', ' ');
      status.className = `tag substep-status tag-${st}`;
    }
  }

  setSubstep(ctx.substep);
  return { el, sections, setSubstep, updateStatuses };
}

/** Complete `step` and go to the next one (the server moves currentStep the same way). */
export async function completeAndGo(ctx, next, nextSub) {
  await ctx.mutate('step.complete', { step: ctx.step });
  if (next) ctx.go(next, nextSub);
}
