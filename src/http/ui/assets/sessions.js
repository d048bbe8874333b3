// The session list: purpose (a link to the session), open or closed, how many messages this
// sign-in may read, last activity; filters; refreshed every few seconds while shown.

import { api, query } from './api.js';
import { h, mount, clear, timeEl, badge, number } from './dom.js';

const REFRESH_MS = 8000;

export function sessionsPage() {
  let status = 'all';
  let text = '';
  let rows = [];
  let cursor = null;
  let stopped = false;
  let pagedBack = false;

  const list = h('div', { class: 'sessions', id: 'session-list' });
  const more = h('button', { class: 'ghost', type: 'button', hidden: true, onclick: () => load(true) }, 'Load older sessions');
  const error = h('div', { class: 'banner', hidden: true });
  const filter = h('input', {
    class: 'grow', type: 'search', placeholder: 'Filter by purpose, id or creator', id: 'session-filter',
    oninput: (e) => { text = e.target.value.toLowerCase(); render(); },
  });
  const seg = h('div', { class: 'seg', role: 'group' },
    ['all', 'open', 'closed'].map((name) => h('button', {
      type: 'button', class: name === status ? 'on' : '', dataset: { status: name },
      onclick: (e) => {
        status = name;
        for (const b of seg.children) b.classList.toggle('on', b === e.currentTarget);
        render();
      },
    }, name[0].toUpperCase() + name.slice(1))));
  const summary = h('span', { class: 'sub' });

  mount(
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, 'Sessions'), summary)),
    error,
    h('div', { class: 'toolbar' }, filter, seg),
    list,
    h('p', { class: 'center' }, more));

  function matches(row) {
    if (status === 'open' && !row.is_active) return false;
    if (status === 'closed' && row.is_active) return false;
    if (!text) return true;
    return [row.purpose, row.id, row.created_by].some((v) => String(v).toLowerCase().includes(text));
  }

  function rowEl(row) {
    return h('a', { class: 'panel srow', href: `#/s/${encodeURIComponent(row.id)}`, dataset: { sessionId: row.id } },
      h('div', {},
        h('div', { class: 'purpose' }, row.purpose),
        h('div', { class: 'meta' },
          badge(row.is_active ? 'open' : 'closed', row.is_active ? 'open' : 'closed'),
          h('span', { class: 'mono' }, row.id),
          h('span', {}, 'by ', row.created_by),
          h('span', {}, 'active ', timeEl(row.updated_at)))),
      h('div', { class: 'count' }, h('b', {}, number(row.message_count)), h('span', {}, row.message_count === 1 ? 'message' : 'messages')));
  }

  function render() {
    const shown = rows.filter(matches);
    clear(list);
    if (shown.length === 0) {
      list.append(h('div', { class: 'panel empty' }, rows.length ? 'No session matches these filters.' : 'No sessions yet. When an agent calls create_session, it appears here.'));
    } else {
      for (const row of shown) list.append(rowEl(row));
    }
    const open = rows.filter((r) => r.is_active).length;
    summary.textContent = `${rows.length} loaded · ${open} open`;
    more.hidden = !cursor;
  }

  async function load(older) {
    try {
      const page = await api.get(`/sessions${query({ cursor: older ? cursor : null, limit: 50 })}`);
      if (stopped) return;
      if (older) {
        rows = rows.concat(page.sessions);
        cursor = page.next_cursor;
        pagedBack = true;
      } else {
        // A refresh replaces the newest page and keeps the older pages already loaded.
        const fresh = new Set(page.sessions.map((s) => s.id));
        rows = page.sessions.concat(rows.filter((r) => !fresh.has(r.id) && pagedBack));
        if (!pagedBack) cursor = page.next_cursor;
      }
      error.hidden = true;
      render();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  load(false);
  const timer = setInterval(() => load(false), REFRESH_MS);
  return () => { stopped = true; clearInterval(timer); };
}
