/* eta traveller page. Everything it shows comes from the public JSON API (/api/v1/...): the page is what a
   mobile app would be. No framework, no build step; strings come from the server's catalogue (#messages). */
"use strict";
(() => {
  const M = JSON.parse(document.getElementById("messages").textContent);
  const LANG = document.body.dataset.lang || "en";
  const LOCALE = { en: "en-GB", fr: "fr-FR", de: "de-DE" }[LANG] || LANG;
  const PAGE = document.body.dataset.page;
  const REFRESH_MS = 30000;
  const $ = (id) => document.getElementById(id);

  function t(key, vars) {
    const text = M[key] || key;
    return text.replace(/\{(\w+)\}/g, (all, name) => (vars && name in vars ? String(vars[name]) : all));
  }

  /* el("p", {class: "x", id: "y"}, "text", child…): an element; never innerHTML with data. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  /* --- time ------------------------------------------------------------------------------------ */

  const formats = new Map();
  function clock(iso, tz) {
    if (!iso) return "—";
    const key = tz || "";
    if (!formats.has(key)) {
      const options = { hour: "2-digit", minute: "2-digit" };
      try {
        if (tz) new Intl.DateTimeFormat(LOCALE, { timeZone: tz });
        if (tz) options.timeZone = tz;
      } catch (e) { /* unknown zone: the browser's own */ }
      formats.set(key, new Intl.DateTimeFormat(LOCALE, options));
    }
    return formats.get(key).format(new Date(iso));
  }

  function age(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 90) return t("seconds", { n: s });
    if (s < 5400) return t("minutes", { n: Math.round(s / 60) });
    return t("hours", { n: Math.floor(s / 3600), m: Math.round((s % 3600) / 60) });
  }

  function delayText(delay_s) {
    if (delay_s === null || delay_s === undefined) return "—";
    const minutes = Math.round(delay_s / 60);
    if (minutes === 0) return t("on_time");
    return minutes > 0 ? t("late", { n: minutes }) : t("early", { n: -minutes });
  }

  function today() {
    const now = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  }

  /* --- the API, with the last good answer kept for when the network fails -------------------------- */

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    const response = await fetch(path, opts);
    if (response.status === 204) return null;
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const detail = body && (body.detail || body.title);
      throw new ApiError(response.status, typeof detail === "string" ? detail : `HTTP ${response.status}`);
    }
    return body;
  }

  function store(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode: no memory */ }
  }

  function recall(key, fallback) {
    try {
      const text = localStorage.getItem(key);
      return text ? JSON.parse(text) : fallback;
    } catch (e) {
      return fallback;
    }
  }

  /* The service's "now" (a replayed day's, in the demo): the browser's clock corrected by the offset
     seen between the newest answer's as_of and the moment it arrived. */
  let clockOffset = 0;
  function noteServiceTime(body) {
    if (body && body.as_of) clockOffset = Date.parse(body.as_of) - Date.now();
  }
  function serviceNow() {
    return Date.now() + clockOffset;
  }

  /* Fetch ``path``; offline (a network error, not an API answer), the last answer kept, with its time. */
  async function fetchKept(path, options) {
    const key = "eta:answer:" + path;
    try {
      const body = await api(path, options);
      noteServiceTime(body);
      store(key, { at: Date.now(), body });
      return { body, at: Date.now(), live: true };
    } catch (error) {
      const kept = recall(key, null);
      if (!(error instanceof ApiError) && kept) return { body: kept.body, at: kept.at, live: false };
      throw error;
    }
  }

  function showOffline(result) {
    const banner = $("offline");
    if (!banner) return;
    banner.hidden = result.live;
    if (!result.live) banner.textContent = t("offline", { age: age((Date.now() - result.at) / 1000) });
  }

  function statusLine(text) {
    const line = $("status-line");
    if (line) line.textContent = text;
  }

  /* Run ``load`` now and every REFRESH_MS while the page is open; "updated N s ago" ticks each second. */
  function keepFresh(load) {
    let lastOk = null;
    const run = async () => {
      try {
        const result = await load();
        if (result) lastOk = result.at;
        tick();
      } catch (error) {
        statusLine(error instanceof ApiError && error.status === 404 ? t("not_found") : t("error", { detail: error.message }));
      }
    };
    const tick = () => {
      const node = $("updated");
      if (node && lastOk) node.textContent = t("updated", { age: age((Date.now() - lastOk) / 1000) });
    };
    run();
    setInterval(run, REFRESH_MS);
    setInterval(tick, 1000);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) run(); });
    return () => lastOk;
  }

  /* --- links ----------------------------------------------------------------------------------- */

  function tripPath(service) {
    const base = `/trip/${service.mode}/${encodeURIComponent(service.operator)}/${encodeURIComponent(service.number)}/${service.service_date}`;
    return service.leg ? `${base}?leg=${encodeURIComponent(service.leg)}` : base;
  }

  function tripApi(service) {
    const base = `/api/v1/trips/${service.mode}/${encodeURIComponent(service.operator)}/${encodeURIComponent(service.number)}/${service.service_date}`;
    return service.leg ? `${base}?leg=${encodeURIComponent(service.leg)}` : base;
  }

  function withStop(path, stop) {
    return path + (path.includes("?") ? "&" : "?") + "stop=" + encodeURIComponent(stop);
  }

  /* --- the arrival card (trip and pick-up pages) ------------------------------------------------- */

  function pickCall(trip, stop) {
    const arriving = trip.calls.filter((c) => c.scheduled_arrival);
    return arriving.find((c) => c.location.code === stop) || arriving[arriving.length - 1] || trip.calls[trip.calls.length - 1];
  }

  function placeName(location) {
    return location.name || location.code;
  }

  function timeline(call) {
    const tz = call.location.tz;
    const points = [call.scheduled_arrival, call.predicted && call.predicted.p10, call.predicted && call.predicted.p90,
      call.operator_estimate && call.operator_estimate.arrival, call.actual_arrival]
      .filter(Boolean).map((iso) => Date.parse(iso));
    if (points.length === 0) return null;
    const pad = 4 * 60000;
    const lo = Math.min(...points) - pad;
    const hi = Math.max(...points) + pad;
    const W = 320, H = 64, left = 8, right = 312;
    const x = (iso) => left + ((Date.parse(iso) - lo) / (hi - lo)) * (right - left);
    const label = t("timeline_label");
    const root = svg("svg", { class: "timeline", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
    root.append(svg("title", {}, label));
    root.append(svg("line", { class: "axis", x1: left, x2: right, y1: 30, y2: 30 }));
    const mark = (cls, iso, y1, y2) => root.append(svg("line", { class: cls, x1: x(iso), x2: x(iso), y1, y2 }));
    if (call.predicted) {
      const p = call.predicted;
      root.append(svg("rect", { class: "band", x: x(p.p10), y: 18, width: Math.max(2, x(p.p90) - x(p.p10)), height: 24, rx: 4 }));
      mark("p50", p.p50, 12, 48);
      root.append(svg("text", { x: x(p.p50), y: 9, "text-anchor": "middle" }, clock(p.p50, tz)));
    }
    if (call.scheduled_arrival) {
      mark("sched", call.scheduled_arrival, 14, 46);
      root.append(svg("text", { x: x(call.scheduled_arrival), y: 60, "text-anchor": "middle" }, clock(call.scheduled_arrival, tz)));
    }
    if (call.operator_estimate) mark("op", call.operator_estimate.arrival, 20, 40);
    if (call.actual_arrival) mark("actual", call.actual_arrival, 10, 50);
    return root;
  }

  function legend(call) {
    const items = [el("li", { class: "k-sched" }, t("scheduled"))];
    if (call.predicted) items.push(el("li", { class: "k-p50" }, t("eta_p50")), el("li", { class: "k-band" }, "P10–P90"));
    if (call.operator_estimate) items.push(el("li", { class: "k-op" }, t("operator_estimate")));
    return el("ul", { class: "legend" }, items);
  }

  function platformLine(call, mode) {
    const info = call.platform;
    const label = mode === "flight" ? t("gate") : t("platform");
    if (!info.predicted) {
      const planned = info.planned ? ` (${t("platform_planned", { p: info.planned })})` : "";
      // a source that never gives gates (the flights demo's) must not read as if one were still to come
      const unknown = info.no_terminal_reason === "source gives none" ? t("gate_source_none") : t("platform_unknown");
      return el("p", { class: "platform unknown", id: "platform" }, `${label}: `, el("span", { class: "value" }, unknown + planned));
    }
    const announced = info.announced;
    const probability = info.probability === null ? "" : `${Math.round(info.probability * 100)} %`;
    const tag = announced ? t("platform_announced") : t("platform_predicted", { p: probability });
    const terminal = info.terminal ? `${info.terminal} · ` : "";
    const parts = [`${label}: `, el("span", { class: "value" }, terminal + info.predicted), el("span", { class: "tag" }, tag)];
    if (info.may_change && info.change_probability !== null) {
      parts.push(el("span", { class: "note warn", id: "platform-may-change" },
        t("platform_may_change", { p: `${Math.round(info.change_probability * 100)} %` })));
    }
    if (!announced && info.announced_at) {
      parts.push(el("span", { class: "note", id: "platform-announced-at" },
        t("platform_announced_at", { time: clock(info.announced_at, call.location.tz) })));
    }
    return el("p", { class: `platform ${announced ? "announced" : "predicted"}`, id: "platform" }, ...parts);
  }

  /* A call one event of which is cancelled: "ends" (it arrives, its onward journey is cancelled) or
     "starts" (it does not arrive, and leaves); null otherwise. */
  function callEnd(call) {
    const arrives = call.status !== "cancelled";
    if (call.departure_cancelled && arrives && call.scheduled_departure) return "ends";
    if (!call.departure_cancelled && !arrives && call.scheduled_arrival && call.scheduled_departure) return "starts";
    return null;
  }

  function renderArrival(section, trip, call) {
    const tz = call.location.tz;
    const p = call.predicted;
    const status = call.status;
    const items = [
      el("div", {}, el("dt", {}, t("scheduled")), el("dd", { id: "scheduled" }, clock(call.scheduled_arrival, tz))),
      el("div", { class: "p50" }, el("dt", {}, status === "arrived" ? t("status_arrived") : t("eta_p50")),
        el("dd", { id: "p50" }, status === "arrived" && call.actual_arrival ? clock(call.actual_arrival, tz) : (p ? clock(p.p50, tz) : "—"))),
      el("div", {}, el("dt", {}, t("delay")), el("dd", { id: "delay", class: p && p.delay_s >= 120 ? "late" : null }, delayText(p ? p.delay_s : null))),
      el("div", {}, el("dt", {}, t("status")), el("dd", { id: "status" }, t("status_" + status)),
        callEnd(call) && el("dd", { id: `${callEnd(call)}-here`, class: "note warn" }, t(`${callEnd(call)}_here`))),
    ];
    const parts = [el("h2", { id: "stop-name", tabindex: "-1" }, placeName(call.location)), el("dl", { class: "times" }, items)];
    const line = timeline(call);
    if (line) parts.push(line, legend(call));
    if (p) parts.push(el("p", { id: "band" }, t("band", { p10: clock(p.p10, tz), p90: clock(p.p90, tz) })));
    if (call.operator_estimate) {
      parts.push(el("p", { id: "operator" }, `${t("operator_estimate")}: ${clock(call.operator_estimate.arrival, tz)} (${delayText(call.operator_estimate.delay_s)})`));
    }
    if (status === "arrived" && call.actual_arrival) parts.push(el("p", {}, t("arrived_at", { time: clock(call.actual_arrival, tz) })));
    parts.push(platformLine(call, trip.service.mode));
    parts.push(el("p", { id: "updated", class: "small muted" }));
    clear(section).append(...parts);
    section.hidden = false;
  }

  function renderParking(section, call) {
    const parking = call.parking;
    const parts = [el("h2", { id: "parking-title" }, t("parking"))];
    if (!parking) {
      const why = {
        "terminal not known": "parking_needs_terminal",
        "platform not known": "parking_needs_platform",
        "platform not covered": "parking_not_covered",
      }[call.no_parking_reason];
      parts.push(el("p", { id: "parking-none" }, t(why || "parking_none")));
    } else {
      const best = parking.recommended;
      parts.push(el("p", { class: "big", id: "parking-best" }, best.name));
      parts.push(el("p", { id: "parking-walk" }, t("parking_walk", { n: Math.round(best.expected_walk_min) })));
      parts.push(el("p", { class: "small" }, t("parking_confidence", { p: `${Math.round(parking.confidence * 100)} %` })));
      if (parking.coverage < 0.999) parts.push(el("p", { class: "small" }, t("parking_coverage", { p: `${Math.round(parking.coverage * 100)} %` })));
      if (parking.alternatives.length) {
        parts.push(el("ul", { class: "alts" }, parking.alternatives.slice(0, 3).map((o) =>
          el("li", {}, `${o.name} · ${t("parking_walk", { n: Math.round(o.expected_walk_min) })}`))));
      }
      if (best.example) parts.push(el("p", { class: "small" }, t("parking_example")));
      if (best.source) parts.push(el("p", { class: "small", id: "parking-source" }, t("parking_source", { source: best.source })));
    }
    clear(section).append(...parts);
    section.hidden = false;
  }

  function renderWhy(section, call) {
    if (!call.explanation || call.status === "arrived") {
      section.hidden = true;
      return;
    }
    const ex = call.explanation;
    clear(section).append(el("h2", { id: "why-title" }, t("why")), el("p", { lang: "en" }, ex.summary),
      el("ul", { class: "alts" }, ex.factors.slice(0, 4).map((f) => el("li", { lang: "en" }, f.text))));
    section.hidden = false;
  }

  function routeText(trip) {
    const calls = trip.calls;
    if (!calls.length) return "";
    const first = calls[0].location, last = calls[calls.length - 1].location;
    const date = new Date(trip.service.service_date + "T12:00:00Z").toLocaleDateString(LOCALE, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
    return `${placeName(first)} → ${placeName(last)} · ${date}`;
  }

  function renderStops(list, trip, chosen, onPick) {
    clear(list);
    for (const call of trip.calls) {
      const tz = call.location.tz;
      const when = call.scheduled_arrival || call.scheduled_departure;
      const predicted = call.predicted ? ` → ${clock(call.predicted.p50, tz)}` : "";
      const label = `${clock(when, tz)}${predicted}`;
      const item = el("li", { "aria-current": call === chosen ? "true" : null }, el("span", { class: "t" }, label), " ");
      if (call.scheduled_arrival && call !== chosen) {
        const link = el("a", { href: withStop(tripPath(trip.service), call.location.code) }, placeName(call.location));
        link.addEventListener("click", (event) => { event.preventDefault(); onPick(call.location.code); });
        item.append(link);
      } else {
        item.append(placeName(call.location));
      }
      const end = callEnd(call);
      if (end) item.append(" · ", el("span", { class: "late" }, t(`${end}_here_short`)));
      list.append(item);
    }
  }

  /* --- the home page: search ------------------------------------------------------------------- */

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  function initHome() {
    const number = $("number"), date = $("date"), list = $("suggestions");
    date.value = date.value || today();
    let found = [];
    const suggest = debounce(async () => {
      const q = number.value.trim();
      try {
        const answer = await api(`/api/v1/services?date=${encodeURIComponent(date.value)}&q=${encodeURIComponent(q)}&limit=8`);
        found = answer.services;
        clear(list);
        if (!found.length) list.append(el("li", { class: "muted" }, t("no_suggestions")));
        for (const s of found) {
          const ref = s.service;
          const times = `${clock(s.departure, s.origin && s.origin.tz)}–${clock(s.arrival, s.destination && s.destination.tz)}`;
          const route = [s.origin, s.destination].filter(Boolean).map(placeName).join(" → ");
          list.append(el("li", {}, el("a", { href: tripPath(ref) }, el("span", { class: "code" }, `${ref.operator} ${ref.number}`), ` ${route} · ${times}`)));
        }
      } catch (error) {
        clear(list).append(el("li", { class: "muted" }, t("error", { detail: error.message })));
      }
    }, 200);
    number.addEventListener("input", suggest);
    date.addEventListener("change", suggest);
    suggest();
    $("trip-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const wanted = number.value.replace(/\s+/g, "").toUpperCase();
      const match = found.find((s) => (s.service.operator + s.service.number).toUpperCase() === wanted) || found[0];
      if (match) location.assign(tripPath(match.service));
    });

    const station = $("station"), places = $("places");
    let placesFound = [];
    const suggestPlaces = debounce(async () => {
      const q = station.value.trim();
      if (!q) { clear(places); return; }
      try {
        placesFound = (await api(`/api/v1/locations?q=${encodeURIComponent(q)}&limit=8`)).locations;
        clear(places);
        for (const p of placesFound) {
          places.append(el("li", {}, el("a", { href: `/board/${encodeURIComponent(p.code)}` }, el("span", { class: "code" }, p.code), ` ${p.name || ""}`)));
        }
      } catch (error) {
        clear(places).append(el("li", { class: "muted" }, t("error", { detail: error.message })));
      }
    }, 200);
    station.addEventListener("input", suggestPlaces);
    $("board-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const q = station.value.trim();
      const match = placesFound.find((p) => p.code.toUpperCase() === q.toUpperCase()) || placesFound[0];
      location.assign(`/board/${encodeURIComponent(match ? match.code : q)}`);
    });
  }

  /* --- the board ------------------------------------------------------------------------------- */

  function initBoard() {
    const root = $("board"), code = root.dataset.code, list = $("arrivals");
    keepFresh(async () => {
      const result = await fetchKept(`/api/v1/locations/${encodeURIComponent(code)}/arrivals`);
      showOffline(result);
      const board = result.body;
      const name = board.location.name || board.location.code;
      $("board-title").textContent = `${t("board_title")} · ${name}`;
      document.title = `${t("board_title")} · ${name} — eta`;
      clear(list);
      if (!board.arrivals.length) list.append(el("li", { class: "muted" }, t("board_empty")));
      for (const a of board.arrivals) {
        const tz = a.location.tz, s = a.service;
        const predicted = a.predicted ? ` → ${clock(a.predicted.p50, tz)} (${delayText(a.predicted.delay_s)})` : "";
        const platform = a.platform.predicted ? ` · ${a.platform.predicted}${a.platform.announced ? "" : "?"}` : "";
        const end = callEnd(a);
        list.append(el("li", {}, el("a", { href: withStop(tripPath(s), code) },
          el("span", { class: "t" }, clock(a.scheduled_arrival, tz)), " ",
          el("span", { class: "code" }, `${s.operator} ${s.number}`), predicted, platform, ` · ${t("status_" + a.status)}`,
          end && ` · ${t(end + "_here_short")}`)));
      }
      statusLine("");
      $("status-line").append(el("span", { id: "updated" }));
      return result;
    });
  }

  /* --- the trip -------------------------------------------------------------------------------- */

  function tripKeyOf(data) {
    const key = { mode: data.mode, operator: data.operator, number: data.number, service_date: data.date || data.service_date };
    if (data.leg) key.leg = data.leg;
    return key;
  }

  function initTrip() {
    const root = $("trip");
    const key = tripKeyOf(root.dataset);
    let stop = root.dataset.stop;
    let last = null;
    const draw = () => {
      const trip = last.body;
      const call = pickCall(trip, stop);
      stop = call.location.code;
      $("trip-title").textContent = `${trip.service.operator} ${trip.service.number} → ${placeName(call.location)}`;
      document.title = `${trip.service.operator} ${trip.service.number} — eta`;
      $("trip-route").textContent = routeText(trip);
      renderArrival($("arrival"), trip, call);
      renderParking($("parking"), call);
      renderWhy($("why"), call);
      renderStops($("stops"), trip, call, (code) => {
        stop = code;
        history.replaceState(null, "", withStop(tripPath(trip.service), code));
        draw();
        $("stop-name").focus();  // the chosen stop's card, not the list that was redrawn
      });
      $("stops-card").hidden = false;
      alerts.update(trip, call);
      shares.update(trip, call);
      statusLine("");
      if (!performance.getEntriesByName("eta-trip-rendered").length) performance.mark("eta-trip-rendered");
    };
    const alerts = alertPanel(() => ({ trip: key, location: stop }), false);
    const shares = sharePanel(key, () => stop);
    keepFresh(async () => {
      const result = await fetchKept(tripApi(key));
      showOffline(result);
      last = result;
      draw();
      return result;
    });
  }

  /* --- alerts: Web Push through the service worker --------------------------------------------- */

  function b64urlBytes(text) {
    const raw = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  const SUBS = "eta:subscriptions";

  /* The service worker writes notifications from the push payload; it reads each subscription's label,
     time zone and page, and the words of this language, from a small cache entry the page keeps. */
  async function tellWorker() {
    if (!("caches" in window)) return;
    const subs = {};
    for (const s of recall(SUBS, [])) subs[s.id] = { label: s.label, tz: s.tz, url: s.url };
    const words = {};
    for (const k of ["push_arrival_changed", "push_platform_changed", "push_leave"]) words[k] = M[k];
    const cache = await caches.open("eta-meta");
    await cache.put("/__eta-meta", new Response(JSON.stringify({ lang: LOCALE, words, subs }), { headers: { "Content-Type": "application/json" } }));
  }

  function alertPanel(target, pickup) {
    const section = $("alerts"), form = $("alert-form"), msg = $("alert-msg"), list = $("alert-list");
    let current = null;
    const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

    async function drawList() {
      const saved = recall(SUBS, []);
      clear(list);
      if (!saved.length) list.append(el("li", { class: "muted" }, t("alerts_none")));
      const kept = [];
      for (const s of saved) {
        let info = null;
        try {
          info = await api(`/api/v1/subscriptions/${encodeURIComponent(s.id)}`, { headers: { Authorization: `Bearer ${s.token}` } });
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) continue; // expired and purged
        }
        kept.push(s);
        const button = el("button", { type: "button", class: "secondary", "data-sub": s.id }, t("alerts_delete"));
        button.addEventListener("click", async () => {
          try {
            await api(`/api/v1/subscriptions/${encodeURIComponent(s.id)}`, { method: "DELETE", headers: { Authorization: `Bearer ${s.token}` } });
          } catch (error) {
            if (!(error instanceof ApiError && error.status === 404)) { msg.textContent = t("error", { detail: error.message }); return; }
          }
          store(SUBS, recall(SUBS, []).filter((x) => x.id !== s.id));
          await tellWorker();
          msg.textContent = t("alerts_deleted");
          drawList();
        });
        const until = info ? ` · ${t("alerts_expires", { time: clock(info.expires_at, s.tz) })}` : "";
        list.append(el("li", { class: "sub" }, el("a", { href: s.url }, s.label), until, " ", button));
      }
      store(SUBS, kept);
    }

    async function subscribe(event) {
      event.preventDefault();
      if (!supported) { msg.textContent = t("alerts_unsupported"); return; }
      if (!$("w-consent").checked) return;
      let key;
      try {
        key = (await api("/api/v1/web-push/public-key")).public_key;
      } catch (error) {
        msg.textContent = error instanceof ApiError && error.status === 404 ? t("alerts_disabled") : t("error", { detail: error.message });
        return;
      }
      if ((await Notification.requestPermission()) !== "granted") { msg.textContent = t("alerts_denied"); return; }
      try {
        const registration = await navigator.serviceWorker.ready;
        const push = (await registration.pushManager.getSubscription()) ||
          (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlBytes(key) }));
        const what = target();
        const body = { trip: what.trip, location: what.location, web_push: push.toJSON(), consent: true };
        if (pickup) {
          body.watch = { platform_change: true, arrival_change: true };
        } else {
          const threshold = Math.max(1, Number($("w-threshold").value) || 5) * 60;
          body.watch = {
            platform_change: $("w-platform").checked,
            predicted_platform_change: $("w-platform").checked && $("w-predicted").checked,
            arrival_change: $("w-arrival").checked,
            arrival_threshold_s: threshold,
          };
          if ($("w-leave").checked) body.travel_time_s = Math.max(0, Math.round(Number($("w-travel").value) || 0)) * 60;
        }
        const made = await api("/api/v1/subscriptions", { method: "POST", json: body });
        const label = current ? current.label : what.location;
        const saved = recall(SUBS, []);
        saved.push({ id: made.id, token: made.token, label, tz: current && current.tz, url: current ? current.url : location.pathname });
        store(SUBS, saved);
        await tellWorker();
        msg.textContent = t("alerts_on", { where: label });
        drawList();
      } catch (error) {
        msg.textContent = t("error", { detail: error.message });
      }
    }

    form.addEventListener("submit", subscribe);
    drawList();
    return {
      update(trip, call) {
        const where = placeName(call.location);
        const url = pickup ? location.pathname + location.hash : withStop(tripPath(trip.service), call.location.code);
        current = { label: `${trip.service.operator} ${trip.service.number} → ${where}`, tz: call.location.tz, url };
        section.hidden = call.status === "arrived" || call.status === "cancelled";
      },
    };
  }

  /* --- share with whoever picks me up ---------------------------------------------------------- */

  function sharePanel(key, stop) {
    const section = $("share"), out = $("share-out"), link = $("share-link"), msg = $("share-msg");
    const memory = () => "eta:share:" + tripApi(key) + ":" + stop();
    const show = () => {
      const saved = recall(memory(), null);
      out.hidden = !saved;
      $("share-make").hidden = !!saved;
      if (saved) link.value = saved.link;
    };
    $("share-make").addEventListener("click", async () => {
      try {
        const made = await api("/api/v1/shares", { method: "POST", json: { trip: key, location: stop() } });
        const url = `${location.origin}/pickup/${made.id}#${made.key}`;
        store(memory(), { id: made.id, revoke: made.revoke_token, link: url });
        msg.textContent = "";
        show();
        link.focus();
        link.select();
      } catch (error) {
        msg.textContent = t("error", { detail: error.message });
      }
    });
    $("share-copy").addEventListener("click", async () => {
      link.select();
      try { await navigator.clipboard.writeText(link.value); } catch (e) { document.execCommand && document.execCommand("copy"); }
      msg.textContent = t("share_copied");
    });
    $("share-revoke").addEventListener("click", async () => {
      const saved = recall(memory(), null);
      if (!saved) return;
      try {
        await api(`/api/v1/shares/${encodeURIComponent(saved.id)}`, { method: "DELETE", headers: { Authorization: `Bearer ${saved.revoke}` } });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) { msg.textContent = t("error", { detail: error.message }); return; }
      }
      localStorage.removeItem(memory());
      msg.textContent = t("share_revoked");
      show();
    });
    return {
      update(trip, call) {
        section.hidden = call.status === "arrived" || call.status === "cancelled";
        show();
      },
    };
  }

  /* --- the pick-up page ------------------------------------------------------------------------ */

  function initPickup() {
    const root = $("pickup"), id = root.dataset.share, secret = location.hash.slice(1);
    const travel = $("travel"), travelKey = "eta:travel:" + id;
    travel.value = recall(travelKey, "");
    let share = null, lastCall = null;
    const drawLeave = () => {
      const out = $("leave-at"), hint = $("leave-hint");
      const minutes = Number(travel.value);
      if (!lastCall || !lastCall.predicted || travel.value === "" || !(minutes >= 0)) {
        out.textContent = hint.textContent = "";
        return;
      }
      const earliest = Date.parse(lastCall.predicted.p10);
      const leave = new Date(earliest - minutes * 60000);
      const tz = lastCall.location.tz;
      out.textContent = leave.getTime() <= serviceNow() ? t("leave_now") : t("leave_at", { time: clock(leave.toISOString(), tz) });
      hint.textContent = t("leave_hint", { time: clock(lastCall.predicted.p10, tz) });
    };
    travel.addEventListener("input", () => { store(travelKey, travel.value); drawLeave(); });
    const alerts = alertPanel(() => ({ trip: share.trip, location: share.location }), true);
    keepFresh(async () => {
      if (!share) {
        try {
          share = await api(`/api/v1/shares/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${secret}` } });
          store("eta:pickup:" + id, share);
        } catch (error) {
          if (error instanceof ApiError && (error.status === 404 || error.status === 410)) {
            localStorage.removeItem("eta:pickup:" + id);
            statusLine(t("pickup_gone"));
            return null;
          }
          share = recall("eta:pickup:" + id, null);
          if (!share) throw error;
        }
      }
      const result = await fetchKept(tripApi(share.trip));
      showOffline(result);
      const trip = result.body;
      const call = pickCall(trip, share.location);
      lastCall = call;
      $("trip-route").textContent = `${trip.service.operator} ${trip.service.number} · ${routeText(trip)}`;
      renderArrival($("arrival"), trip, call);
      renderParking($("parking"), call);
      $("leave").hidden = call.status === "arrived" || call.status === "cancelled";
      drawLeave();
      alerts.update(trip, call);
      statusLine("");
      return result;
    });
    setInterval(drawLeave, 15000);
  }

  /* --- start ----------------------------------------------------------------------------------- */

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => { /* no worker: still a page */ });
    // the first visit came before the worker: keep this page for offline visits now
    navigator.serviceWorker.ready
      .then(() => caches.open("eta-pages"))
      .then((cache) => cache.add(location.pathname + location.search))
      .catch(() => { /* offline already, or no storage: nothing to keep */ });
  }
  const start = { home: initHome, board: initBoard, trip: initTrip, pickup: initPickup }[PAGE];
  if (start) start();
})();
