// RFC 6902 application for server patches, on fast-json-patch (imported by its bare name: the
// app's import map points it at /vendor/fast-json-patch/index.mjs, node resolves node_modules).
// The default export is used because it exists in both the ESM build (browser) and the CommonJS
// build node loads. Two additions make it strict where the library is lenient: an array index
// must be "0" or have no leading zero, in every operation (the library skips this for `test`),
// and the whole patch applies or nothing does.

import jsonpatch from 'fast-json-patch';

const INDEX = /^(0|[1-9][0-9]*)$/;

function decode(ptr) {
  if (typeof ptr !== 'string' || (ptr !== '' && !ptr.startsWith('/'))) throw new PatchError(`bad pointer ${ptr}`);
  return ptr === '' ? [] : ptr.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

export class PatchError extends Error {}

/** Refuse array tokens with a leading zero or a sign anywhere along `ptr` in `doc`. */
function checkIndexes(doc, ptr, op) {
  const tokens = decode(ptr);
  let node = doc;
  for (let i = 0; i < tokens.length; i += 1) {
    const t = tokens[i];
    const last = i === tokens.length - 1;
    if (Array.isArray(node)) {
      if (!(INDEX.test(t) || (last && t === '-' && op === 'add'))) throw new PatchError(`bad array index ${t} in ${ptr}`);
      node = node[Number(t)];
    } else if (node !== null && typeof node === 'object') {
      node = Object.prototype.hasOwnProperty.call(node, t) ? node[t] : undefined;
    } else {
      return; // the library reports a missing path itself
    }
  }
}

/**
 * Apply `ops` to a copy of `doc`; return the new document. Throws PatchError (or the library's
 * JsonPatchError) when any operation is malformed or does not apply; `doc` is never modified.
 */
export function applyPatch(doc, ops) {
  if (!Array.isArray(ops)) throw new PatchError('a patch is a list of operations');
  let current = doc === undefined ? undefined : structuredClone(doc);
  for (const op of ops) {
    if (op === null || typeof op !== 'object' || Array.isArray(op)) throw new PatchError('an operation is an object');
    checkIndexes(current, op.path, op.op);
    if (op.op === 'move' || op.op === 'copy') checkIndexes(current, op.from, 'from');
    // validateOperation=true checks shape and paths; mutateDocument=true is safe on our copy.
    current = jsonpatch.applyOperation(current, op, true, true).newDocument;
  }
  return current;
}
