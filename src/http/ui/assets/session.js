// One session: messages newest first (older pages load on scroll), new ones arriving live over
// the event stream (resuming from the last id after a reconnect), threads, search, and for admins
// the human overseer's composer and the close button.

import { api, query } from './api.js';
import { h, mount, clear, timeEl, badge, number, colourOf, initials } from './dom.js';
import { coordinationPanel } from './coordination.js';

const PAGE = 50;
const NAME_KEY = 'scs-ui-overseer-name';

export function sessionPage(sessionId, me) {
  const byId = new Map();
  const replies = new Map();
  let oldest = null;
  let exhausted = false;
  let loading = false;
  let threadRoot = null;
  let replyTo = null;
  let source = null;
  let stopped = false;
  let session = null;

  const title = h('h1', {}, 'Session');
  const sub = h('div', { class: 'sub' });
  const liveBadge = h('span', { class: 'badge offline', id: 'live' }, h('i', { class: 'dot' }), 'connecting');
  const countBadge = h('span', { class: 'badge' });
  const statusBadge = h('span', { class: 'badge' });
  const actions = h('span', {});
  const error = h('div', { class: 'banner', hidden: true, role: 'alert' });
  const list = h('div', { class: 'msgs', id: 'messages' });
  const sentinel = h('div', { class: 'sentinel', id: 'older' }, 'Loading…');
  const threadBar = h('div', { class: 'thread-bar', hidden: true });
  const searchInput = h('input', { class: 'grow', type: 'search', id: 'search', placeholder: 'Search this session (fuzzy) and press Enter' });
  const searchResults = h('div', { class: 'msgs', id: 'search-results', hidden: true });
  const composer = me.admin ? buildComposer() : null;
  const coordination = coordinationPanel(sessionId, fail);

  mount(
    h('div', { class: 'page-head' },
      h('div', {}, h('a', { href: '#/', class: 'muted' }, '← All sessions'), title, sub),
      h('div', { class: 'toolbar' }, statusBadge, countBadge, liveBadge, actions)),
    error,
    composer,
    coordination.panel,
    h('div', { class: 'toolbar' }, searchInput),
    threadBar,
    searchResults,
    list,
    sentinel);

  function fail(err) {
    error.textContent = err.message;
    error.hidden = false;
  }

  // ---- rendering -------------------------------------------------------------------------
  function messageEl(m, fresh) {
    const human = m.sender_type === 'human';
    const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' }, initials(m.sender));
    avatar.style.background = human ? 'var(--warn)' : colourOf(m.sender);
    const parent = m.parent_message_id ? byId.get(m.parent_message_id) : null;
    const quote = m.parent_message_id
      ? h('div', { class: 'quote', title: 'Show the thread', onclick: () => showThread(rootOf(m)) },
        '↪ in reply to #', String(m.parent_message_id),
        parent ? ` · ${parent.sender}: ${parent.content.slice(0, 90)}${parent.content.length > 90 ? '…' : ''}` : '')
      : null;
    const meta = m.metadata && Object.keys(m.metadata).length
      ? h('details', { class: 'meta' }, h('summary', {}, 'metadata'), h('pre', {}, JSON.stringify(m.metadata, null, 2)))
      : null;
    const acts = h('div', { class: 'msg-actions' },
      m.parent_message_id || replies.get(m.id)
        ? h('button', { class: 'link', type: 'button', onclick: () => showThread(rootOf(m)) },
          replies.get(m.id) ? `Thread · ${replies.get(m.id)} repl${replies.get(m.id) === 1 ? 'y' : 'ies'}` : 'Thread')
        : null,
      me.admin
        ? h('button', { class: 'link', type: 'button', onclick: () => setReply(m) }, 'Reply') : null);
    return h('article', {
      class: `panel msg${human ? ' is-human' : ''}${m.parent_message_id ? ' reply' : ''}${fresh ? ' fresh' : ''}`,
      dataset: { id: m.id, visibility: m.visibility, senderType: m.sender_type },
    },
    avatar,
    h('div', {},
      h('div', { class: 'msg-head' },
        h('span', { class: 'sender' }, m.sender),
        human ? badge('human', 'human') : badge(m.sender_type, ''),
        badge(m.visibility.replace('_', ' '), `v-${m.visibility}`),
        m.to && m.to.length ? badge(`to ${m.to.join(', ')}`, 'v-direct to') : null,
        timeEl(m.timestamp),
        h('span', { class: 'id mono' }, `#${m.id}`)),
      quote,
      h('div', { class: 'content' }, m.content),
      meta,
      acts));
  }

  function remember(m) {
    byId.set(m.id, m);
    if (m.parent_message_id) replies.set(m.parent_message_id, (replies.get(m.parent_message_id) || 0) + 1);
  }

  function rootOf(m) {
    let cur = m;
    const seen = new Set();
    while (cur.parent_message_id && byId.has(cur.parent_message_id) && !seen.has(cur.id)) {
      seen.add(cur.id);
      cur = byId.get(cur.parent_message_id);
    }
    return cur.parent_message_id && !byId.has(cur.parent_message_id) ? cur.parent_message_id : cur.id;
  }

  function inThread(m, root) {
    let cur = m;
    for (let i = 0; i < 1000 && cur; i++) {
      if (cur.id === root) return true;
      if (!cur.parent_message_id) return false;
      if (cur.parent_message_id === root) return true;
      cur = byId.get(cur.parent_message_id);
    }
    return false;
  }

  function showThread(root) {
    threadRoot = root;
    clear(threadBar).append(
      h('span', {}, 'Thread of #', String(root), ' — oldest first'),
      h('button', { class: 'ghost', type: 'button', onclick: () => { threadRoot = null; redraw(); } }, 'Back to all messages'));
    redraw();
    window.scrollTo({ top: 0 });
  }

  function redraw() {
    threadBar.hidden = threadRoot === null;
    clear(list);
    let shown = [...byId.values()].sort((a, b) => b.id - a.id);
    if (threadRoot !== null) shown = shown.filter((m) => inThread(m, threadRoot)).reverse();
    for (const m of shown) list.append(messageEl(m, false));
    sentinel.hidden = threadRoot !== null;
    updateSentinel();
  }

  function updateSentinel() {
    if (byId.size === 0 && exhausted) sentinel.textContent = 'No messages you may read yet. New ones appear here as they arrive.';
    else if (exhausted) sentinel.textContent = 'The beginning of this session.';
    else sentinel.textContent = 'Loading older messages…';
  }

  function addLive(m) {
    if (byId.has(m.id)) return;
    remember(m);
    if (m.sender_type === 'system') coordination.refresh();
    if (session) { session.message_count += 1; countBadge.textContent = `${number(session.message_count)} messages`; }
    if (threadRoot !== null) { if (inThread(m, threadRoot)) list.append(messageEl(m, true)); return; }
    list.prepend(messageEl(m, true));
  }

  // ---- loading -----------------------------------------------------------------------------
  async function loadSession() {
    session = await api.get(`/sessions/${encodeURIComponent(sessionId)}`);
    title.textContent = session.purpose;
    clear(sub).append(h('span', { class: 'mono' }, session.id), ' · created by ', session.created_by, ' · ', timeEl(session.created_at));
    statusBadge.textContent = session.is_active ? 'open' : 'closed';
    statusBadge.className = `badge ${session.is_active ? 'open' : 'closed'}`;
    countBadge.textContent = `${number(session.message_count)} messages`;
    document.title = `${session.purpose} · Shared Context`;
    clear(actions);
    if (me.admin && session.is_active) {
      actions.append(h('button', { class: 'ghost danger-text', type: 'button', id: 'close-session', onclick: closeSession }, 'Close session'));
    }
    if (composer) composer.hidden = !session.is_active;
  }

  async function loadOlder() {
    if (loading || exhausted || stopped) return;
    loading = true;
    try {
      const page = await api.get(`/sessions/${encodeURIComponent(sessionId)}/messages${query({ before_id: oldest, limit: PAGE })}`);
      if (stopped) return;
      for (const m of page.messages) {
        if (byId.has(m.id)) continue;
        remember(m);
        if (threadRoot === null) list.append(messageEl(m, false));
      }
      if (page.messages.length) oldest = page.messages[page.messages.length - 1].id;
      if (page.messages.length < PAGE) exhausted = true;
      updateSentinel();
    } catch (err) {
      fail(err);
    } finally {
      loading = false;
    }
    // Still on screen (a tall window): keep filling.
    if (!exhausted && !stopped && sentinel.getBoundingClientRect().top < window.innerHeight + 400) loadOlder();
  }

  function connect(afterId) {
    source = new EventSource(`/ui/api/sessions/${encodeURIComponent(sessionId)}/events${query({ after_id: afterId })}`);
    source.addEventListener('open', () => setLive(true));
    source.addEventListener('message', (e) => addLive(JSON.parse(e.data)));
    source.addEventListener('error', () => {
      setLive(false);
      // A refused stream (signed out, session gone) is not retried by the browser: ask why.
      if (source.readyState === EventSource.CLOSED && !stopped) api.get('/me').then(() => setTimeout(() => !stopped && connect(newestId()), 3000), () => {});
    });
  }

  function newestId() {
    let max = 0;
    for (const id of byId.keys()) max = Math.max(max, id);
    return max;
  }

  function setLive(on) {
    liveBadge.className = `badge ${on ? 'live' : 'offline'}`;
    clear(liveBadge).append(h('i', { class: 'dot' }), on ? 'live' : 'reconnecting');
  }

  // ---- search ------------------------------------------------------------------------------
  searchInput.addEventListener('keydown', async (e) => {
    if (e.key !== 'Enter') return;
    const q = searchInput.value.trim();
    if (!q) { searchResults.hidden = true; list.hidden = false; sentinel.hidden = threadRoot !== null; return; }
    try {
      const found = await api.get(`/sessions/${encodeURIComponent(sessionId)}/search${query({ q })}`);
      clear(searchResults).append(h('div', { class: 'thread-bar' },
        h('span', {}, `${found.hits.length} result${found.hits.length === 1 ? '' : 's'} for “${q}”, best first`),
        h('button', { class: 'ghost', type: 'button', onclick: () => { searchInput.value = ''; searchResults.hidden = true; list.hidden = false; sentinel.hidden = threadRoot !== null; } }, 'Clear search')));
      for (const hit of found.hits) searchResults.append(messageEl(hit, false));
      searchResults.hidden = false;
      list.hidden = true;
      sentinel.hidden = true;
    } catch (err) { fail(err); }
  });

  // ---- the human overseer ------------------------------------------------------------------
  function buildComposer() {
    const name = h('input', { id: 'overseer-name', placeholder: 'Your name', maxlength: 100, value: localStorage.getItem(NAME_KEY) || 'Overseer' });
    const visibility = h('select', { id: 'overseer-visibility', title: 'Who may read it' },
      h('option', { value: 'public' }, 'Public — everyone reads it'),
      h('option', { value: 'admin_only' }, 'Admin only — a note for admins'));
    const text = h('textarea', { id: 'overseer-text', placeholder: 'Write to the agents as a human…', rows: 2 });
    const replying = h('span', { class: 'replying', hidden: true });
    const send = h('button', { type: 'submit', id: 'overseer-send' }, 'Post as human');
    const form = h('form', { id: 'composer' },
      text,
      h('div', { class: 'row' }, name, visibility, replying, send));
    const box = h('details', { class: 'panel composer', open: window.innerWidth > 640 },
      h('summary', {}, 'Post into this session as a human'), form);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      send.disabled = true;
      localStorage.setItem(NAME_KEY, name.value.trim());
      try {
        const m = await api.post(`/sessions/${encodeURIComponent(sessionId)}/messages`, {
          name: name.value.trim(), content: text.value, visibility: visibility.value,
          parent_message_id: replyTo ? replyTo.id : null,
        });
        text.value = '';
        setReply(null);
        addLive(m);
      } catch (err) { fail(err); } finally { send.disabled = false; }
    });
    box.setReplyLabel = (m) => {
      replying.hidden = !m;
      clear(replying);
      if (m) {
        box.open = true;
        replying.append(`Replying to #${m.id} (${m.sender}) `, h('button', { class: 'link', type: 'button', onclick: () => setReply(null) }, 'cancel'));
      }
    };
    return box;
  }

  function setReply(m) {
    replyTo = m;
    if (composer) { composer.setReplyLabel(m); if (m) composer.querySelector('textarea').focus(); }
  }

  async function closeSession() {
    const name = (localStorage.getItem(NAME_KEY) || 'Overseer').trim();
    if (!confirm(`Close “${session.purpose}”? Agents can still read it but not post.`)) return;
    try {
      await api.post(`/sessions/${encodeURIComponent(sessionId)}/close`, { name });
      await loadSession();
      redraw();
    } catch (err) { fail(err); }
  }

  // ---- start -------------------------------------------------------------------------------
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadOlder();
  }, { rootMargin: '600px' });

  (async () => {
    try {
      // The session's header and its newest messages in parallel: one round trip, not two.
      await Promise.all([loadSession(), loadOlder(), coordination.refresh()]);
      if (stopped) return;
      connect(newestId());
      observer.observe(sentinel);
    } catch (err) {
      fail(err);
      sentinel.hidden = true;
    }
  })();

  return () => {
    stopped = true;
    coordination.stop();
    observer.disconnect();
    if (source) source.close();
    document.title = 'Shared Context · Dashboard';
  };
}
