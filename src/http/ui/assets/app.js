// The dashboard shell: who is signed in, the sign-in form, the top bar and the hash router.

import { api, ApiError } from './api.js';
import { h, mount, badge } from './dom.js';
import { sessionsPage } from './sessions.js';
import { sessionPage } from './session.js';
import { operationsPage, auditPage } from './operations.js';

export const state = { me: null, cleanup: null };

const KIND_LABEL = { admin: 'Admin', viewer: 'Viewer · public only', agent: 'Agent' };

function showChrome(me) {
  const signedIn = Boolean(me);
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('who').hidden = !signedIn;
  for (const el of document.querySelectorAll('[data-admin-only]')) el.hidden = !(me && me.admin);
  if (me) {
    const b = document.getElementById('who-badge');
    b.textContent = me.kind === 'agent' ? `Agent · ${me.name}` : KIND_LABEL[me.kind];
    b.className = `badge kind-${me.kind}`;
  }
}

function signInPage(message) {
  showChrome(null);
  const secret = h('input', {
    id: 'secret', type: 'password', name: 'secret', autocomplete: 'off', required: true,
    placeholder: 'Admin key, API key or agent token', spellcheck: 'false',
  });
  const error = h('p', { class: 'error', id: 'signin-error', role: 'alert' }, message || '');
  const button = h('button', { type: 'submit', id: 'signin-submit' }, 'Sign in');
  const form = h('form', { class: 'panel signin', id: 'signin', method: 'post', action: '/ui/api/signin' },
    h('h1', {}, 'Watch your agents'),
    h('p', {}, 'Sign in to see the sessions your agents share, as they happen.'),
    h('label', { for: 'secret' }, 'Key or token'),
    secret, button, error,
    h('ul', {},
      h('li', {}, 'The admin key shows everything and lets you post as a human.'),
      h('li', {}, 'The API key shows public messages only.'),
      h('li', {}, 'An agent token shows exactly what that agent can read.')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.textContent = '';
    const value = secret.value;
    secret.value = '';
    try {
      await api.post('/signin', { secret: value });
      await start();
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : 'Could not reach the server.';
      button.disabled = false;
      secret.focus();
    }
  });
  mount(form);
  secret.focus();
}

function route() {
  if (state.cleanup) { state.cleanup(); state.cleanup = null; }
  if (!state.me) return;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [, section, id] = hash.split('/');
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.remove('active');
  const nav = (name) => document.querySelector(`[data-nav="${name}"]`)?.classList.add('active');
  if (section === 's' && id) { nav('sessions'); state.cleanup = sessionPage(decodeURIComponent(id), state.me); }
  else if (section === 'ops') { nav('ops'); state.cleanup = operationsPage(); }
  else if (section === 'audit' && state.me.admin) { nav('audit'); state.cleanup = auditPage(); }
  else { nav('sessions'); state.cleanup = sessionsPage(); }
}

async function start() {
  try {
    state.me = await api.get('/me');
  } catch (err) {
    state.me = null;
    signInPage(err instanceof ApiError && err.status !== 401 ? err.message : '');
    return;
  }
  api.setCsrf(state.me.csrf);
  showChrome(state.me);
  route();
}

window.addEventListener('hashchange', route);
window.addEventListener('signed-out', () => {
  if (!state.me) return;
  state.me = null;
  if (state.cleanup) { state.cleanup(); state.cleanup = null; }
  signInPage('Your sign-in ended; sign in again.');
});
document.getElementById('signout').addEventListener('click', async () => {
  try { await api.post('/signout'); } catch { /* signed out either way */ }
  state.me = null;
  if (state.cleanup) { state.cleanup(); state.cleanup = null; }
  api.setCsrf('');
  history.replaceState(null, '', '#/');
  signInPage('You are signed out.');
});

export { badge };
start();
