// Feature flags from the server, and the events the browser reports for the metrics (resume
// offered / taken / restored, offline replays). Reports are fire-and-forget: a lost report
// only makes a metric slightly less complete, never breaks the page.
import { api } from '../lib/cvsession.js';

const FLAGS_KEY = 'cvsession:flags';
// What the app does when the server cannot be asked (offline, first visit): all capabilities on,
// as the server's defaults are.
const DEFAULTS = { 'cross-device-sync': true, offline: true, 'resume-dialog': true, 'checkpointed-processing': true };

export async function loadFlags() {
  try {
    const { flags } = await api.get('/api/flags');
    localStorage.setItem(FLAGS_KEY, JSON.stringify(flags));
    return { ...DEFAULTS, ...flags };
  } catch {
    try {
      return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(FLAGS_KEY) || '{}') };
    } catch {
      return { ...DEFAULTS };
    }
  }
}

export function report(kind, sessionId, data) {
  const body = { kind, data };
  if (sessionId) body.sessionId = sessionId;
  api.post('/api/events', body).catch(() => {});
}

/** Report an offline period once the edits queued during it have all reached the server. */
export function watchOfflineReplay(session) {
  let since = null;
  let most = 0;
  return session.on('status', (st) => {
    if (st.kind === 'offline') {
      if (since === null) since = Date.now();
      most = Math.max(most, st.pending || 0);
    } else if (st.kind === 'saved' && since !== null) {
      if (most > 0) report('offline.replayed', session.id, { count: most, offlineMs: Date.now() - since });
      since = null;
      most = 0;
    }
  });
}
