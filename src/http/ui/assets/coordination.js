// A session's coordination panel: its live leases (resources, holder, mode, expiry) and its tasks
// (title, state, assignee or claimant, blocked_by), read from /coordination, which applies the
// same visibility rule as check_leases and list_tasks. Data only becomes text (dom.js's h).

import { api } from './api.js';
import { h, clear, timeEl, badge } from './dom.js';

export function coordinationPanel(sessionId, fail) {
  const leaseRows = h('tbody', { id: 'lease-rows' });
  const taskRows = h('tbody', { id: 'task-rows' });
  const leaseCount = h('span', { class: 'badge', id: 'lease-count' });
  const taskCount = h('span', { class: 'badge', id: 'task-count' });
  const head = (...names) => h('thead', {}, h('tr', {}, names.map((n) => h('th', {}, n))));
  const panel = h('details', { class: 'panel coordination', id: 'coordination', open: true },
    h('summary', {}, 'Leases and tasks ', leaseCount, ' ', taskCount),
    h('div', { class: 'table-wrap' },
      h('h2', {}, 'Live leases'),
      h('table', { id: 'leases' }, head('Resources', 'Holder', 'Mode', 'Expires'), leaseRows),
      h('h2', {}, 'Tasks'),
      h('table', { id: 'tasks' }, head('#', 'Title', 'State', 'Assignee / claimant', 'Blocked by'), taskRows)));

  function empty(body, cols, text) {
    body.append(h('tr', { class: 'empty' }, h('td', { colspan: cols, class: 'muted' }, text)));
  }

  // Closed while the session has no leases and no tasks (most sessions: it would only push the
  // messages down), opened when the first one appears; after that the reader's choice stands.
  let hadAny = null;
  function render(c) {
    const any = c.leases.length + c.tasks.length > 0;
    if (hadAny === null ? true : any && !hadAny) panel.open = any;
    hadAny = any;
    clear(leaseRows);
    clear(taskRows);
    leaseCount.textContent = `${c.leases.length} lease${c.leases.length === 1 ? '' : 's'}`;
    taskCount.textContent = `${c.tasks.length}${c.more_tasks ? '+' : ''} task${c.tasks.length === 1 ? '' : 's'}`;
    for (const l of c.leases) {
      leaseRows.append(h('tr', { dataset: { leaseId: l.lease_id } },
        h('td', { class: 'mono' }, l.resources.join(', ')),
        h('td', {}, l.held_by),
        h('td', {}, badge(l.mode, `mode-${l.mode}`)),
        h('td', {}, timeEl(l.expires_at))));
    }
    if (!c.leases.length) empty(leaseRows, 4, 'No live leases in this session.');
    for (const t of c.tasks) {
      const who = [t.assignee ? `assigned to ${t.assignee}` : null, t.claimed_by ? `claimed by ${t.claimed_by}` : null]
        .filter(Boolean).join(' · ');
      taskRows.append(h('tr', { dataset: { taskId: t.task_id, state: t.state } },
        h('td', { class: 'mono' }, `#${t.task_id}`),
        h('td', {}, t.title),
        h('td', {}, badge(t.state, `state-${t.state}`)),
        h('td', {}, who || '–'),
        h('td', { class: 'mono' }, t.blocked_by.length ? t.blocked_by.map((id) => `#${id}`).join(', ') : '–')));
    }
    if (!c.tasks.length) empty(taskRows, 5, 'No tasks in this session.');
  }

  let pending = null;
  async function refresh() {
    if (pending) return pending;
    pending = api.get(`/sessions/${encodeURIComponent(sessionId)}/coordination`)
      .then(render, fail)
      .finally(() => { pending = null; });
    return pending;
  }
  // Task changes post a system message (the page refreshes on it); leases post none, and
  // expire on their own, so a slow poll keeps them current.
  const timer = setInterval(refresh, 15000);
  return { panel, refresh, stop: () => clearInterval(timer) };
}
