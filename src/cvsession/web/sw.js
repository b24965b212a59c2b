// The service worker: the app shell offline. Served at /sw.js (scope /) by routes_web.py,
// which stamps BUILD with the manifest's version, so every deploy changes these bytes and the
// browser installs the new worker; its cache is named after the build and replaces the old one.
//
// - Page navigations (/, /sessions, /new, /session/**): network first, so a 404 stays a 404;
//   the cached shell only when the network fails (offline).
// - /app/** and /vendor/**: cache first (the cache is this build's).
// - Everything else (/api/**, WebSocket, /sw.js): not intercepted, never cached.
const BUILD = '__CVSESSION_BUILD__';
const PREFIX = 'cvsession-shell-';
const CACHE = PREFIX + BUILD;
const SHELL = '/app/index.html';

const isPage = (path) =>
  path === '/' || path === '/sessions' || path === '/new' || path === '/pair' || path === '/admin' || path === '/session' || path.startsWith('/session/');
const isAsset = (path) => path.startsWith('/app/') || path.startsWith('/vendor/');

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const response = await fetch('/app/manifest.json', { cache: 'no-store' });
    if (!response.ok) throw new Error(`manifest: HTTP ${response.status}`);
    const manifest = await response.json();
    const cache = await caches.open(CACHE);
    // addAll is all or nothing: a half-filled cache never becomes the active one.
    await cache.addAll(manifest.files.map((f) => new Request(f.url, { cache: 'no-cache' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && isPage(url.pathname)) {
    event.respondWith(networkFirst(request));
  } else if (isAsset(url.pathname) && url.pathname !== '/app/manifest.json') {
    event.respondWith(cacheFirst(request));
  }
});

async function networkFirst(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cached = await caches.match(SHELL, { cacheName: CACHE });
    if (cached) return cached;
    throw error;
  }
}

// The cache belongs to one build (BUILD changes with every deploy), so a cached file is never
// stale: no background refresh, which would double every request of every page load.
async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
