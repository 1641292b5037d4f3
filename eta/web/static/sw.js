/* eta's service worker (served at /sw.js after a line that lists the current assets as ASSETS).
   Pages: network first, the last copy when offline. Assets: from the cache (their URLs carry a hash).
   API answers are not cached here: the page keeps its last answers itself, with their time.
   Push: shows the alert a subscription of this device asked for. */
"use strict";
const SHELL = "eta-shell-" + ASSETS.map((a) => a.split("v=")[1]).join("");
const PAGES = "eta-pages";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(ASSETS.concat(["/"]))).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("eta-shell-") && n !== SHELL).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(PAGES).then((cache) => cache.put(url.pathname + url.search, copy));
          }
          return response;
        })
        .catch(() => caches.match(url.pathname + url.search, { cacheName: PAGES })
          .then((hit) => hit || caches.match("/")))
    );
    return;
  }
  if (url.pathname.startsWith("/static/web/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  }
});

async function meta() {
  const hit = await caches.match("/__eta-meta", { cacheName: "eta-meta" });
  return hit ? hit.json() : { lang: "en", words: {}, subs: {} };
}

function fill(text, vars) {
  return (text || "").replace(/\{(\w+)\}/g, (all, name) => (name in vars ? vars[name] : all));
}

function clockIn(iso, tz, lang) {
  if (!iso) return "";
  const options = { hour: "2-digit", minute: "2-digit" };
  try {
    return new Intl.DateTimeFormat(lang, tz ? Object.assign({ timeZone: tz }, options) : options).format(new Date(iso));
  } catch (e) {
    return new Intl.DateTimeFormat(lang, options).format(new Date(iso));
  }
}

/* The notification for one eta message ({id, type, timestamp, data}). */
function notification(message, info) {
  const words = info.words, data = message.data || {};
  const sub = info.subs[data.subscription_id] || {};
  const time = (iso) => clockIn(iso, sub.tz, info.lang);
  let body = message.type;
  if (message.type === "trip.arrival_changed") body = fill(words.push_arrival_changed, { time: time(data.predicted_arrival) });
  else if (message.type === "trip.platform_changed") body = fill(words.push_platform_changed, { platform: data.platform });
  else if (message.type === "trip.leave_now" || message.type === "trip.leave_time_changed") body = fill(words.push_leave, { time: time(data.leave_at) });
  return {
    title: sub.label || "eta",
    options: { body, tag: data.subscription_id || "eta", renotify: true, icon: ASSETS.find((a) => a.includes("icon-192")), data: { url: sub.url || "/" } },
  };
}

self.addEventListener("push", (event) => {
  let message = {};
  try { message = event.data ? event.data.json() : {}; } catch (e) { message = { type: event.data ? event.data.text() : "" }; }
  event.waitUntil(meta().then((info) => {
    const shown = notification(message, info);
    return self.registration.showNotification(shown.title, shown.options);
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({ type: "window" }).then((windows) => {
    for (const w of windows) if (new URL(w.url).pathname === new URL(url, self.location.origin).pathname) return w.focus();
    return self.clients.openWindow(url);
  }));
});
