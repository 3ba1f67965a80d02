import { createHash } from 'node:crypto';

// The page is one self-contained document: inline CSS and JS, no external asset, no framework
// (the gateway may run offline). Everything shown comes from `/dashboard/data` and reaches the
// DOM through `textContent` / `setAttribute` only, so model names and error messages cannot
// inject markup; the CSP below allows exactly this script and style and nothing else.

const STYLE = String.raw`
:root{--bg:#f5f6f8;--card:#fff;--ink:#1c2230;--muted:#6a7385;--line:#e3e6ec;--ok:#16a34a;--warn:#d97706;--bad:#dc2626;--info:#2563eb;--p99:#a9b4c6}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header.top{display:flex;align-items:center;gap:12px;padding:12px 24px;background:#111827;color:#f9fafb}
header.top h1{font-size:18px;margin:0;letter-spacing:.02em}
header.top .sub{color:#9ca3af}
#conn{margin-left:auto;display:flex;align-items:center;gap:6px;color:#d1d5db;font-size:13px}
#conn::before{content:"";width:8px;height:8px;border-radius:50%;background:var(--muted)}
#conn[data-live=yes]::before{background:#22c55e}#conn[data-live=no]::before{background:var(--bad)}
#auth{display:flex;flex-wrap:wrap;align-items:center;gap:8px;padding:12px 24px;background:#eef2ff;border-bottom:1px solid #c7d2fe}#auth[hidden]{display:none}
#auth input{font:inherit;padding:4px 8px;min-width:280px}#auth button{font:inherit;padding:4px 12px}
#demo{background:repeating-linear-gradient(135deg,#fef3c7 0 14px,#fde68a 14px 28px);color:#78350f;font-weight:700;text-align:center;padding:8px;letter-spacing:.04em;border-bottom:1px solid #f59e0b}
main{display:grid;grid-template-columns:minmax(0,1fr) 380px;gap:20px;padding:20px 24px;align-items:start}
@media (max-width:1100px){main{grid-template-columns:1fr}}
.route,aside{background:var(--card);border:1px solid var(--line);border-radius:10px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.route{margin-bottom:20px;border-top:4px solid var(--ok)}
.route[data-health=degraded]{border-top-color:var(--warn)}.route[data-health=unavailable]{border-top-color:var(--bad)}
.route>header{display:flex;align-items:baseline;gap:10px;padding:14px 16px 4px;flex-wrap:wrap}
.route h2{margin:0;font-size:17px}
.detail{color:var(--muted);font-size:12px}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;color:#fff;background:var(--ok);text-transform:uppercase;letter-spacing:.03em}
.pill.degraded{background:var(--warn)}.pill.unavailable{background:var(--bad)}
.stats{display:flex;flex-wrap:wrap;gap:6px 26px;padding:6px 16px 12px}
.stat b{display:block;font-size:18px;font-variant-numeric:tabular-nums}
.stat>span{color:var(--muted);font-size:12px}
.grid{display:grid;grid-template-columns:minmax(180px,1.5fr) minmax(160px,1.4fr) .7fr 1fr 1fr .9fr;gap:0 12px;align-items:center;padding:0 16px}
.grid.head{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.05em;border-top:1px solid var(--line);padding-top:8px;padding-bottom:4px}
.grid.row{border-top:1px solid var(--line);padding-top:9px;padding-bottom:9px}
.stat svg.spark{width:140px}
.tname{display:flex;align-items:center;gap:8px;font-weight:600;overflow-wrap:anywhere}
.tname small,.state small{display:block;font-weight:400;color:var(--muted);font-size:12px}
.dot{flex:none;width:10px;height:10px;border-radius:50%;background:var(--ok)}
.row[data-health=degraded] .dot{background:var(--warn)}.row[data-health=unavailable] .dot{background:var(--bad)}
.badge{display:inline-block;margin:2px 4px 0 0;padding:0 6px;border-radius:4px;font-size:11px;border:1px solid var(--line);color:var(--muted)}
.badge.open,.badge.isolated{border-color:var(--bad);color:var(--bad)}.badge.half_open,.badge.cool{border-color:var(--warn);color:var(--warn)}
.num{font-variant-numeric:tabular-nums}.n50{color:var(--info)}.n99{color:#7b879b}
.cell small{display:block;color:var(--muted);font-size:11px}
svg.spark{display:block;width:100%;max-width:150px;height:28px;margin-top:2px}
.spark .p50{stroke:var(--info);stroke-width:1.6;fill:none;stroke-linecap:round;stroke-linejoin:round}
.spark .p99{stroke:var(--p99);stroke-width:1.2;fill:none;stroke-linecap:round;stroke-linejoin:round}
.spark .ok{fill:#86efac}.spark .bad{fill:var(--bad)}
aside{position:sticky;top:20px;max-height:calc(100vh - 40px);display:flex;flex-direction:column}
aside h2{margin:0;padding:14px 16px 8px;font-size:15px}
#feed{list-style:none;margin:0;padding:0 0 8px;overflow-y:auto}
#feed li{padding:6px 16px 6px 13px;border-left:3px solid var(--info);border-top:1px solid var(--line);font-size:13px}
#feed li.warn{border-left-color:var(--warn)}#feed li.bad{border-left-color:var(--bad)}#feed li.good{border-left-color:var(--ok)}
#feed time{color:var(--muted);font-size:11px;font-variant-numeric:tabular-nums;margin-right:6px}
#feed .tag{font-size:10px;text-transform:uppercase;letter-spacing:.05em;font-weight:700;margin-right:6px}
#feed .warn .tag{color:var(--warn)}#feed .bad .tag{color:var(--bad)}#feed .good .tag{color:var(--ok)}#feed .info .tag{color:var(--info)}
#feed .rt{color:var(--muted);font-size:11px}
#feed .why{color:var(--muted);font-size:12px;word-break:break-word}
.empty{color:var(--muted);padding:16px}
`;

const SCRIPT = String.raw`
'use strict';
(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const feedMax = 200;
  let after = 0, misses = 0;

  const h = (tag, attrs, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false) el.append(kid);
    return el;
  };
  const ms = (v) => v === null || v === undefined ? '—' : v < 10 ? v.toFixed(1) + ' ms' : v < 1000 ? Math.round(v) + ' ms' : (v / 1000).toFixed(v < 10000 ? 2 : 1) + ' s';
  const pct = (r) => r === null || r === undefined ? '—' : (r * 100).toFixed(r === 1 ? 0 : 1) + '%';
  const dur = (t) => { const s = Math.max(0, Math.ceil(t / 1000)); return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : ''); };
  const clock = (at) => new Date(at).toLocaleTimeString([], { hour12: false });
  const label = (s) => String(s).replace('_', '-');

  const svg = (title, draw) => {
    const el = document.createElementNS(SVG, 'svg');
    el.setAttribute('viewBox', '0 0 120 28');
    el.setAttribute('preserveAspectRatio', 'none');
    el.setAttribute('class', 'spark');
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', title);
    draw((name, attrs) => { const n = document.createElementNS(SVG, name); for (const k in attrs) n.setAttribute(k, attrs[k]); el.append(n); });
    return el;
  };
  // p50 and p99 over time; empty slots are gaps, a lone point a dot.
  const lines = (title, p50, p99) => svg(title, (add) => {
    const max = Math.max(1, ...p99.concat(p50).filter((v) => v !== null));
    const x = (i) => p50.length < 2 ? 118 : 2 + (i * 116) / (p50.length - 1);
    for (const [vals, cls] of [[p99, 'p99'], [p50, 'p50']]) {
      let d = '';
      vals.forEach((v, i) => { if (v !== null) d += (i > 0 && vals[i - 1] !== null ? 'L' : 'M') + x(i).toFixed(1) + ' ' + (26 - (v / max) * 23).toFixed(1) + 'h0'; });
      if (d) add('path', { d, class: cls });
    }
  });
  // Requests per slot: successes stacked on failures.
  const bars = (title, ok, bad) => svg(title, (add) => {
    const max = Math.max(1, ...ok.map((v, i) => v + bad[i]));
    const w = 120 / Math.max(ok.length, 1);
    ok.forEach((v, i) => {
      const hb = (bad[i] / max) * 26, ho = (v / max) * 26;
      if (hb) add('rect', { x: (i * w + 0.5).toFixed(1), y: (28 - hb).toFixed(1), width: (w - 1).toFixed(1), height: hb.toFixed(1), class: 'bad' });
      if (ho) add('rect', { x: (i * w + 0.5).toFixed(1), y: (28 - hb - ho).toFixed(1), width: (w - 1).toFixed(1), height: ho.toFixed(1), class: 'ok' });
    });
  });
  const span = (slotMs, n) => 'last ' + dur(slotMs * n);
  // Target ids read "provider/model": let long ones wrap after the slash.
  const breakable = (id) => String(id).split('/').flatMap((part, i) => i ? [h('wbr'), '/' + part] : [part]);
  // "p50 / p99", each in its line's colour.
  const pair = (quant) => h('span', { class: 'num' }, h('span', { class: 'n50' }, ms(quant.p50)), ' / ', h('span', { class: 'n99' }, ms(quant.p99)));
  const q = (title, quant, p50, p99, s) => h('div', { class: 'cell' },
    pair(quant), lines(title + ' p50 and p99, ' + span(s.slotMs, p50.length), p50, p99));
  const traffic = (x) => h('div', { class: 'cell' },
    h('span', { class: 'num' }, x.requests + ' req'), bars('requests per ' + dur(x.series.slotMs) + ', failures in red', x.series.successes, x.series.failures));
  const rate = (x) => h('div', { class: 'cell' }, h('span', { class: 'num' }, pct(x.successRate)), h('small', {}, x.successes + ' ok · ' + x.failures + ' failed'));

  const state = (t, now) => {
    const badges = [];
    if (t.breaker && t.breaker.state !== 'closed') badges.push(h('span', { class: 'badge ' + t.breaker.state }, 'breaker ' + label(t.breaker.state)));
    if (t.cooldown) badges.push(h('span', { class: 'badge cool', 'data-cooldown': '' }, 'cooldown ' + dur(t.cooldown.until - now) + ' · ' + label(t.cooldown.reason)));
    if (t.inFlight) badges.push(h('span', { class: 'badge' }, t.inFlight + ' in flight'));
    return h('div', { class: 'state' }, h('span', { class: 'pill ' + t.health.status }, t.health.status), ' ', badges,
      h('small', { title: t.lastError ? 'last error: ' + t.lastError.kind + ' ' + t.lastError.message : null }, t.health.detail));
  };
  const target = (t, now) => h('div', { class: 'grid row', 'data-target': t.id, 'data-health': t.health.status, 'data-breaker': t.breaker ? t.breaker.state : 'none' },
    h('div', { class: 'tname' }, h('span', { class: 'dot' }), h('div', {}, breakable(t.id), h('small', {}, t.provider + ' · ' + t.model))),
    state(t, now), rate(t),
    q('latency of ' + t.id, t.latency, t.series.latencyP50, t.series.latencyP99, t.series),
    q('time to first token of ' + t.id, t.ttft, t.series.ttftP50, t.series.ttftP99, t.series),
    traffic(t));
  const stat = (name, value, chart) => h('div', { class: 'stat' }, h('b', {}, value), h('span', {}, name), chart);
  const route = (r, now) => h('article', { class: 'route', 'data-route': r.name, 'data-health': r.health.status },
    h('header', {}, h('h2', {}, r.name), h('span', { class: 'pill ' + r.health.status }, r.health.status), h('span', { class: 'detail' }, r.health.detail)),
    h('div', { class: 'stats' },
      stat('requests', r.requests, bars('requests of ' + r.name + ', failures in red', r.series.successes, r.series.failures)),
      stat('success, last ' + dur(r.recentMs), pct(r.successRate)),
      stat('latency p50 / p99', pair(r.latency), lines('latency of ' + r.name, r.series.latencyP50, r.series.latencyP99)),
      stat('TTFT p50 / p99', pair(r.ttft), lines('time to first token of ' + r.name, r.series.ttftP50, r.series.ttftP99)),
      stat('retries', r.retries), stat('fallbacks', r.fallbacks), stat('in flight', r.inFlight)),
    h('div', { class: 'grid head' }, h('div', {}, 'target'), h('div', {}, 'state'), h('div', {}, 'success'), h('div', {}, 'latency p50 / p99'), h('div', {}, 'TTFT p50 / p99'), h('div', {}, 'traffic, ' + span(r.series.slotMs, r.series.successes.length))),
    r.targets.map((t) => target(t, now)));

  const event = (e) => h('li', { class: e.severity, 'data-type': e.type, 'data-route': e.route, 'data-seq': e.seq },
    h('time', {}, clock(e.at)), h('span', { class: 'tag' }, e.type), h('span', { class: 'rt' }, e.route), h('div', {}, e.text), e.detail ? h('div', { class: 'why' }, e.detail) : null);

  const render = (data) => {
    document.getElementById('demo').hidden = !data.demo;
    const routes = document.getElementById('routes');
    routes.replaceChildren(...(data.routes.length ? data.routes.map((r) => route(r, data.now)) : [h('div', { class: 'route empty' }, 'No routes configured.')]));
    const feed = document.getElementById('feed');
    if (data.reset) feed.replaceChildren();
    for (const e of data.events) feed.prepend(event(e));
    while (feed.children.length > feedMax) feed.lastElementChild.remove();
    if (!feed.children.length) feed.append(h('li', { class: 'info empty', 'data-type': 'none' }, 'No retries, fallbacks or breaker changes yet.'));
    else for (const none of feed.querySelectorAll('[data-type=none]')) none.remove();
    after = data.seq;
  };
  const live = (ok, text) => { const c = document.getElementById('conn'); c.dataset.live = ok ? 'yes' : 'no'; c.textContent = text; };

  // With client tokens configured the data needs one: asked for on the page, kept for this tab only.
  const form = document.getElementById('auth');
  // Storage may be blocked (privacy settings): then the token lives in this page only.
  const stored = { get() { try { return sessionStorage.getItem('ballast-token') || ''; } catch { return ''; } }, set(v) { try { sessionStorage.setItem('ballast-token', v); } catch { /* page memory only */ } } };
  let token = stored.get();
  let waiting = false;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    token = document.getElementById('token').value.trim();
    stored.set(token);
    form.hidden = true;
    if (waiting) { waiting = false; poll(); }
  });

  const poll = async () => {
    try {
      const res = await fetch('dashboard/data?after=' + after, { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} });
      if (res.status === 401) {
        form.hidden = false;
        document.getElementById('token').focus();
        live(false, token ? 'that token was refused' : 'the gateway asks for a client token');
        waiting = true;
        return;
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      render(await res.json());
      misses = 0;
      live(true, 'live · updated ' + clock(Date.now()));
    } catch (err) {
      misses++;
      live(false, 'offline (' + (err && err.message ? err.message : 'error') + '), retrying');
    }
    setTimeout(poll, Math.min(5000, 1000 * (1 + misses)));
  };
  poll();
})();
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The page's Content-Security-Policy: its own inline script and style, requests to itself, nothing else. */
export const DASHBOARD_CSP = `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/**
 * The live dashboard: one self-contained HTML document (no external asset) that polls
 * `dashboard/data` every second and shows routes, targets, health, breakers, cooldowns, success
 * rates, p50/p99 latency and TTFT charts and the event feed. `demo` shows the SIMULATED banner
 * from the first paint (the data's `demo` flag keeps it in step).
 */
export function dashboardPage(options: { demo: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ballast dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header class="top"><h1>Ballast</h1><span class="sub">gateway dashboard</span><span id="conn">connecting…</span></header>
<form id="auth" hidden><label for="token">This gateway asks for a client token (one of server.tokens):</label> <input id="token" type="password" autocomplete="off" required> <button>Show the dashboard</button></form>
<div id="demo" role="status"${options.demo ? '' : ' hidden'}>SIMULATED — demo mode: the providers are simulated with injected faults</div>
<main>
<section id="routes" aria-label="Routes"></section>
<aside aria-label="Events"><h2>Live events</h2><ol id="feed"></ol></aside>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
