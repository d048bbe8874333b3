// Operations (health, pool and database figures; calls per second, errors and latency per tool
// over the last hour, as charts) and the audit log (admin).

import { api, query } from './api.js';
import { h, mount, clear, number, timeEl } from './dom.js';
import { barChart, areaChart } from './charts.js';

const REFRESH_MS = 10000;

function card(label, value, hint) {
  return h('div', { class: 'panel card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), hint ? h('div', { class: 'hint' }, hint) : null);
}

function uptime(sec) {
  if (sec < 3600) return `${Math.floor(sec / 60)} min`;
  if (sec < 86400) return `${(sec / 3600).toFixed(1)} h`;
  return `${(sec / 86400).toFixed(1)} days`;
}

export function operationsPage() {
  const error = h('div', { class: 'banner', hidden: true });
  const cards = h('div', { class: 'cards', id: 'health-cards' });
  const total = h('div', { class: 'panel big-chart', id: 'total-chart' });
  const charts = h('div', { class: 'charts', id: 'tool-charts' });
  const db = h('div', { class: 'panel card', hidden: true });
  mount(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Operations'), h('div', { class: 'sub' }, 'This process, refreshed every 10 seconds'))),
    error, cards, total, charts, h('h2', { class: 'db-head' }), db);

  function draw(ops) {
    const { health, last_hour: hour } = ops;
    const pool = health.pool;
    const cache = health.token_cache;
    const hitRate = cache.hits + cache.misses ? `${Math.round((100 * cache.hits) / (cache.hits + cache.misses))}% hits` : 'no lookups yet';
    clear(cards).append(
      card('Status', health.status, `${health.backend} · v${health.version}`),
      card('Uptime', uptime(health.uptime_seconds)),
      card('Database', health.database.reachable ? `${fmtMs(health.database.ping_ms)} ping` : 'unreachable', health.database.server_version || health.database.error || ''),
      card('Pool', `${pool.in_use} / ${pool.max}`, `in use · ${pool.idle} idle · ${pool.waiting} waiting`),
      card('Acquire', `${fmtMs(pool.acquire_mean_ms)}`, `mean · p99 ${fmtMs(pool.acquire_p99_ms)}`),
      card('Token cache', number(cache.hits + cache.misses), hitRate));

    const n = 60;
    const sum = new Array(n).fill(0);
    for (const t of hour.tools) t.calls.forEach((c, i) => { sum[i] += c; });
    const calls = sum.reduce((a, b) => a + b, 0);
    const errors = hour.tools.reduce((a, t) => a + t.errors.reduce((x, y) => x + y, 0), 0);
    clear(total).append(
      h('h2', {}, 'Calls per second, all tools'),
      h('div', { class: 'sub muted' }, `${number(calls)} calls and ${number(errors)} errors in the last hour`),
      areaChart({ values: sum.map((c) => c / 60), unit: 'calls/s' }));

    clear(charts);
    if (hour.tools.length === 0) charts.append(h('div', { class: 'panel empty' }, 'No tool calls in the last hour yet.'));
    const busiest = [...hour.tools].sort((a, b) => b.calls.reduce((x, y) => x + y, 0) - a.calls.reduce((x, y) => x + y, 0));
    for (const t of busiest) {
      const c = t.calls.reduce((a, b) => a + b, 0);
      const e = t.errors.reduce((a, b) => a + b, 0);
      const withCalls = t.mean_ms.filter((_, i) => t.calls[i] > 0);
      const mean = withCalls.length ? withCalls.reduce((a, b) => a + b, 0) / withCalls.length : 0;
      charts.append(h('div', { class: 'panel chart', dataset: { tool: t.tool } },
        h('h3', {}, t.tool, h('span', {}, `${number(c)} calls · ${number(e)} errors · ${fmtMs(mean)} mean`)),
        barChart({ values: t.calls.map((v) => v / 60), errors: t.errors.map((v) => v / 60), line: t.mean_ms, unit: 'calls/s' }),
        h('div', { class: 'legend' },
          h('span', {}, legendDot('var(--accent)'), 'calls/s'),
          h('span', {}, legendDot('var(--danger)'), 'errors/s'),
          h('span', {}, legendDot('var(--accent-2)'), 'mean latency'))));
    }

    const stats = health.database.stats;
    db.hidden = !stats;
    if (stats) clear(db).append(h('div', { class: 'label' }, 'Database figures'), h('pre', { class: 'mono' }, JSON.stringify(stats, null, 2)));
  }

  function legendDot(colour) {
    const i = h('i');
    i.style.background = colour;
    return i;
  }

  let stopped = false;
  async function load() {
    try {
      const ops = await api.get('/operations');
      if (!stopped) { draw(ops); error.hidden = true; }
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }
  load();
  const timer = setInterval(load, REFRESH_MS);
  return () => { stopped = true; clearInterval(timer); };
}

function fmtMs(v) {
  if (v === null || v === undefined) return '–';
  return v < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
}

export function auditPage() {
  const error = h('div', { class: 'banner', hidden: true });
  const body = h('tbody', { id: 'audit-rows' });
  let rows = [];
  let text = '';
  const filter = h('input', { class: 'grow', type: 'search', placeholder: 'Filter by event, actor, session or details', oninput: (e) => { text = e.target.value.toLowerCase(); render(); } });
  mount(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Audit log'), h('div', { class: 'sub' }, 'The newest 500 entries'))),
    error,
    h('div', { class: 'toolbar' }, filter),
    h('div', { class: 'panel table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Event'), h('th', {}, 'Actor'), h('th', {}, 'Session'), h('th', {}, 'Details'))),
      body)));

  function render() {
    clear(body);
    for (const r of rows) {
      const details = JSON.stringify(r.details);
      if (text && ![r.event, r.actor, r.session_id || '', details].some((v) => v.toLowerCase().includes(text))) continue;
      body.append(h('tr', {},
        h('td', {}, timeEl(r.at)),
        h('td', {}, h('span', { class: `badge${r.event.includes('human') || r.event.includes('dashboard') ? ' human' : ''}` }, r.event)),
        h('td', {}, r.actor),
        h('td', { class: 'mono' }, r.session_id ? h('a', { href: `#/s/${encodeURIComponent(r.session_id)}` }, r.session_id) : '–'),
        h('td', { class: 'details mono' }, details)));
    }
  }

  api.get(`/audit${query({ limit: 500 })}`).then((page) => { rows = page.entries; render(); }, (err) => {
    error.textContent = err.message;
    error.hidden = false;
  });
  return () => {};
}
