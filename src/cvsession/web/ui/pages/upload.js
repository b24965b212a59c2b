// Step 1: choose a PDF or DOCX (or paste the CV as text), check it, upload it, start processing.
import { h, toast, nextId, dig } from '../dom.js';
import { boundField, validators, formValues } from '../forms.js';
import { substepSections } from '../steps.js';

const MAX_BYTES = 10 * 1024 * 1024;
const MAX_TEXT = 200 * 1024;
const KINDS = { pdf: 'application/pdf', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' };

function kindOf(file) {
  const ext = (file.name.split('.').pop() || '').toLowerCase();
  return KINDS[ext] ? ext : null;
}

export function mount(ctx) {
  const { session, api } = ctx;
  let chosen = null; // {blob, filename, size, kind}
  const fileId = nextId('file');
  const fileInput = h('input', { id: fileId, type: 'file', accept: '.pdf,.docx,application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document' });
  const pasteId = nextId('paste');
  const paste = h('textarea', { id: pasteId, rows: 8, placeholder: 'Or paste the text of your CV here' });
  const check = h('div', { class: 'check-result', role: 'status' });
  const role = boundField(session, 'upload', 'role', { label: 'Target role', initial: session.state.target?.role || '', rules: [validators.maxLength(200)], help: 'Used to find the keywords your CV should carry.' });
  const instructions = boundField(session, 'upload', 'instructions', { label: 'Instructions for the analysis (optional)', initial: session.state.target?.instructions || '', rows: 3, rules: [validators.maxLength(5000)] });
  const go = h('button', { type: 'button', class: 'primary' }, 'Upload and process');
  const done = h('div', { class: 'upload-done' });

  function validate() {
    const errors = [];
    if (chosen?.kind === 'text') {
      if (chosen.size > MAX_TEXT) errors.push('Pasted text is limited to 200 KB.');
      if (!chosen.text.trim()) errors.push('The pasted text is empty.');
    } else if (chosen) {
      if (!chosen.kind) errors.push('Choose a PDF or DOCX file.');
      if (chosen.size > MAX_BYTES) errors.push('The file is larger than 10 MB.');
      if (chosen.size === 0) errors.push('The file is empty.');
    } else {
      errors.push('Choose a file or paste your CV.');
    }
    check.textContent = errors.length ? errors.join(' ') : `Ready: ${chosen.filename} (${Math.ceil(chosen.size / 1024)} KB).`;
    check.className = `check-result ${errors.length ? 'bad' : 'good'}`;
    go.disabled = errors.length > 0;
    return errors;
  }

  fileInput.addEventListener('change', () => {
    const file = fileInput.files[0];
    if (!file) return;
    paste.value = '';
    chosen = { blob: file, filename: file.name, size: file.size, kind: kindOf(file) };
    ctx.mutate('substep.complete', { step: 'upload', substep: 'file-select', data: { filename: file.name.slice(0, 200), size: file.size } });
    if (validate().length === 0) ctx.mutate('substep.complete', { step: 'upload', substep: 'file-validate', data: { kind: chosen.kind } });
  });
  paste.addEventListener('input', () => {
    fileInput.value = '';
    const text = paste.value;
    chosen = text ? { blob: new Blob([text], { type: 'text/plain' }), filename: 'cv.txt', size: new Blob([text]).size, kind: 'text', text } : null;
    validate();
  });

  go.addEventListener('click', async () => {
    if (validate().length) return;
    go.disabled = true;
    go.textContent = 'Uploading…';
    try {
      const values = formValues(session, session.state, 'upload', ['role', 'instructions'], session.state.target || {});
      await session.flush();
      if (chosen.kind === 'text') {
        await ctx.mutate('substep.complete', { step: 'upload', substep: 'file-select', data: { filename: 'cv.txt', size: chosen.size } });
        await ctx.mutate('substep.complete', { step: 'upload', substep: 'file-validate', data: { kind: 'text' } });
      }
      await ctx.mutate('target.set', { role: String(values.role || '').slice(0, 200), instructions: String(values.instructions || '').slice(0, 5000) });
      const row = await api.upload(`/api/sessions/${session.id}/uploads?filename=${encodeURIComponent(chosen.filename)}`, chosen.blob, chosen.filename);
      await ctx.mutate('substep.complete', { step: 'upload', substep: 'file-upload', data: { uploadId: row.id, filename: row.filename || chosen.filename } });
      await ctx.mutate('step.complete', { step: 'upload' });
      try {
        await api.post(`/api/sessions/${session.id}/uploads/${row.id}/process`, {});
      } catch (err) {
        if (err.code !== 'feature_disabled') throw err;
        // Automatic processing is switched off for this account: the CV is entered by hand.
        toast('Automatic processing is not available for your account yet: fill in your CV on the Analysis step.');
        await ctx.mutate('step.complete', { step: 'processing' });
        ctx.go('analysis');
        return;
      }
      ctx.go('processing');
    } catch (err) {
      toast(err.status === 0 ? 'You are offline: uploading needs the network. Your other changes are kept.' : err.message, 'error');
      go.disabled = false;
    } finally {
      go.textContent = 'Upload and process';
    }
  });

  const page = substepSections(ctx, null, {
    'file-select': h('div', { class: 'stack' },
      h('div', { class: 'field' }, h('label', { for: fileId }, 'Your CV (PDF or DOCX, up to 10 MB)'), fileInput),
      h('div', { class: 'field' }, h('label', { for: pasteId }, 'Or paste it as text'), paste),
      role.el, instructions.el),
    'file-validate': check,
    'file-upload': h('div', { class: 'stack' }, h('div', { class: 'actions' }, go), done),
  });
  validate();

  return {
    el: page.el,
    setSubstep: page.setSubstep,
    update(state) {
      page.updateStatuses(state);
      role.update(state);
      instructions.update(state);
      const uploaded = dig(state, 'steps', 'upload', 'substeps', 'file-upload', 'data');
      if (uploaded?.uploadId) {
        done.replaceChildren(h('p', {}, `Uploaded ${uploaded.filename || 'your CV'}. `,
          h('a', { href: `/session/${session.id}/processing`, dataset: { route: '1' } }, 'See processing'),
          '. Upload another file to start over.'));
      }
    },
  };
}
