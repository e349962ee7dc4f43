// The service worker: caches the app's shell (every built file, listed at build
// time by vite.config.ts) so the app starts without a network. The API is never
// cached here: the app keeps its data in IndexedDB.

const worker = globalThis as unknown as ServiceWorkerGlobalScope;

// both replaced by the build (vite.config.ts): the file list, and its digest
const SHELL = "__SHELL_FILES__" as unknown as string[];
const CACHE = "crewtrack-shell-__SHELL_VERSION__";

worker.addEventListener("install", (event: ExtendableEvent) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(SHELL.map((f) => new URL(f, worker.registration.scope).href));
      await worker.skipWaiting();
    })(),
  );
});

worker.addEventListener("activate", (event: ExtendableEvent) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("crewtrack-shell-") && name !== CACHE) await caches.delete(name);
      }
      await worker.clients.claim();
    })(),
  );
});

worker.addEventListener("fetch", (event: FetchEvent) => {
  const request = event.request;
  const url = new URL(request.url);
  if (
    request.method !== "GET" ||
    url.origin !== worker.location.origin ||
    !url.pathname.startsWith("/app/")
  ) {
    return;
  }
  if (request.mode === "navigate") {
    // the page: the network's (a new release) when there is one, else the cached shell
    event.respondWith(
      (async () => {
        try {
          return await fetch(request);
        } catch {
          const cached = await caches.match(new URL("./", worker.registration.scope).href);
          return cached ?? Response.error();
        }
      })(),
    );
    return;
  }
  event.respondWith((async () => (await caches.match(request)) ?? fetch(request))());
});
