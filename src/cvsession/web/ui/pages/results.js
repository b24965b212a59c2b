// Step 7: what was produced, the downloads, read-only share links, and a way to continue on
// another device.
import { h, replace, button, toast, dig, when, plural } from '../dom.js';
import { substepSections, completeAndGo } from '../steps.js';

export function mount(ctx) {
  const { session, api, catalogue } = ctx;
  const summaryBox = h('div', { class: 'stack' });
  const downloads = h('ul', { class: 'downloads' });
  const shareBox = h('div', { class: 'stack' });
  const base = `/api/sessions/${session.id}/download`;
  const linksPath = `/api/sessions/${session.id}/share-links`;
  const templatePick = h('select', { 'aria-label': 'Template to share' },
    catalogue.templates.map((t) => h('option', { value: t.id }, t.title)));
  const expiryPick = h('select', { 'aria-label': 'Link expires' },
    [['', 'Until I revoke it'], ['7', 'For 7 days'], ['30', 'For 30 days'], ['90', 'For 90 days']]
      .map(([value, label]) => h('option', { value }, label)));
  const createdBox = h('div', { class: 'stack', 'aria-live': 'polite' });
  const linkList = h('ul', { class: 'share-links' });
  let picked = false; // the user chose a template: updates no longer follow the session's
  templatePick.addEventListener('change', () => { picked = true; });

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

  function problem(err, what) {
    toast(err.status === 0 ? `You are offline: ${what} needs the network.` : err.message, 'error');
  }

  async function copy(url) {
    try {
      await navigator.clipboard.writeText(url);
      toast('Link copied.');
    } catch {
      toast('Copying is not allowed here: select the address and copy it.', 'error');
    }
  }

  // The QR code feature's default target is "share-link", but the server never keeps a link's
  // token, so it cannot fill the URL in: offer to, right when the URL exists.
  function qrOffer(url) {
    const qr = dig(session.state, 'features', 'embed-qr-code');
    const config = qr?.configuration || {};
    if (!qr?.enabled || (config.target ?? 'share-link') !== 'share-link' || config.url) return null;
    const box = h('p', { class: 'qr-offer' }, 'Your QR code is set to point to your share link. ',
      button('Use this link in the QR code', async () => {
        await ctx.mutate('feature.configure', { feature: 'embed-qr-code', configuration: { url } });
        replace(box, 'The QR code will link here the next time your CV is generated.');
      }));
    return box;
  }

  async function loadLinks() {
    let links;
    try {
      links = (await api.get(linksPath)).shareLinks;
    } catch (err) {
      replace(linkList, h('li', { class: 'muted' }, err.status === 0 ? 'Your links show here when you are online.' : err.message));
      return;
    }
    replace(linkList, links.length ? links.map((l) => h('li', { class: 'share-link', dataset: { id: l.id } },
      h('span', {}, `${catalogue.templatesById[l.template]?.title || l.template} · created ${when(l.createdAt)} · ${l.expiresAt ? `expires ${when(l.expiresAt)}` : 'until revoked'} · ${plural(l.views, 'view')}`),
      button('Revoke', () => revoke(l.id))))
      : h('li', { class: 'muted' }, 'No active links.'));
  }

  async function createLink() {
    try {
      const body = { template: templatePick.value };
      if (expiryPick.value) body.expiresInDays = Number(expiryPick.value);
      const res = await api.post(linksPath, body);
      const until = res.expiresAt ? `until ${when(res.expiresAt)}` : 'until you revoke it';
      replace(createdBox,
        h('p', {}, `Anyone with this address can view your CV (read-only) ${until}. It is shown only now:`),
        h('p', {}, h('code', { class: 'share-url' }, res.url), ' ', button('Copy', () => copy(res.url))),
        qrOffer(res.url));
      ctx.mutate('substep.complete', { step: 'results', substep: 'results-share' });
      await loadLinks();
    } catch (err) {
      problem(err, 'sharing');
    }
  }

  async function revoke(id) {
    try {
      await api.del(`${linksPath}/${encodeURIComponent(id)}`);
      toast('Link revoked: it no longer opens your CV.');
      replace(createdBox);
      await loadLinks();
    } catch (err) {
      problem(err, 'revoking');
    }
  }

  const readOnly = h('section', { class: 'stack share-readonly' },
    h('h3', {}, 'Share a read-only link'),
    h('p', {}, 'A link to your generated CV that anyone can open without signing in. Revoke it whenever you like, or let it expire.'),
    h('div', { class: 'actions' }, templatePick, expiryPick, button('Create link', createLink)),
    createdBox,
    linkList);
  const pairing = ctx.flags?.['cross-device-sync'] === false
    ? h('p', { class: 'muted' }, 'Continuing on another device is not available for your account yet.')
    : h('div', { class: 'stack' },
      h('h3', {}, 'Continue on another device'),
      h('p', {}, 'Continue on your phone or another computer: everything you did comes with you.'),
      h('div', { class: 'actions' }, button('Continue on another device', pair)), shareBox);

  const page = substepSections(ctx, null, {
    'results-display': summaryBox,
    'results-download': downloads,
    'results-share': h('div', { class: 'stack' }, readOnly, pairing),
  });
  const next = h('div', { class: 'actions' },
    button('Optimise keywords', async () => { await completeAndGo(ctx, 'keywords'); }),
    button('Finish', async () => { await completeAndGo(ctx, null); ctx.go('completed'); }, { class: 'primary' }));
  page.el.appendChild(next);

  function update(state) {
    page.updateStatuses(state);
    const selected = dig(state, 'template', 'selected') || 'modern';
    if (!picked) templatePick.value = selected;
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

  loadLinks();
  return { el: page.el, setSubstep: page.setSubstep, update };
}
