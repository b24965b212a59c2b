// Same-origin JSON over fetch, with cookies, and RFC 9457 problem details turned into ApiError.

export class ApiError extends Error {
  constructor({ status = 0, type = 'about:blank', title = '', detail = '', body = null } = {}) {
    super(detail || title || (status ? `HTTP ${status}` : 'network error'));
    this.name = 'ApiError';
    this.status = status; // 0: the request never got an answer (offline, DNS, CORS, abort)
    this.type = type;
    this.title = title;
    this.detail = detail;
    this.body = body;
    this.code = body && typeof body === 'object' ? body.code : undefined; // the domain code, if any
  }
}

async function parseBody(response) {
  const text = await response.text();
  if (!text) return null;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** A fetch wrapper bound to `fetchImpl` (defaults to the global fetch at call time). */
export function createApi(fetchImpl) {
  async function request(method, path, { body, raw, headers = {} } = {}) {
    const doFetch = fetchImpl ?? globalThis.fetch;
    const init = { method, credentials: 'include', headers: { Accept: 'application/json, application/problem+json', ...headers } };
    if (raw !== undefined) {
      init.body = raw;
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    let response;
    try {
      response = await doFetch(path, init);
    } catch (err) {
      throw new ApiError({ status: 0, title: 'Network error', detail: String(err?.message ?? err) });
    }
    const parsed = await parseBody(response).catch(() => null);
    if (!response.ok) {
      const p = parsed && typeof parsed === 'object' ? parsed : {};
      throw new ApiError({ status: response.status, type: p.type ?? 'about:blank', title: p.title ?? response.statusText ?? '',
        detail: p.detail ?? (typeof parsed === 'string' ? parsed : ''), body: parsed });
    }
    return parsed;
  }
  return {
    get: (path, { headers } = {}) => request('GET', path, { headers }),
    post: (path, body) => request('POST', path, { body }),
    put: (path, body) => request('PUT', path, { body }),
    patch: (path, body) => request('PATCH', path, { body }),
    del: (path) => request('DELETE', path),
    /** Upload a file's bytes as the body; the server reads the name from ?filename=. */
    upload(path, fileOrBlob, filename = fileOrBlob?.name ?? 'cv') {
      const sep = path.includes('?') ? '&' : '?';
      return request('POST', `${path}${sep}filename=${encodeURIComponent(filename)}`, {
        raw: fileOrBlob, headers: { 'Content-Type': 'application/octet-stream' } });
    },
  };
}

export const api = createApi();

/** The caller's identity: GET /api/me, or on 401 a guest identity (HttpOnly cookie) first. */
export async function ensureIdentity(fetchImpl) {
  const client = fetchImpl ? createApi(fetchImpl) : api;
  try {
    const me = await client.get('/api/me');
    return { userId: me.userId };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
  const guest = await client.post('/api/identity/guest', {});
  return { userId: guest.userId };
}
