// Spyglass UI: sign-in, the top bar and a client-side router over the app shell's deep links.

import { ApiError, clearAuth, getAuth, signIn } from './api.js';
import { clear, errorBox, h, link } from './dom.js';
import { promptView, sessionView, sessionsView, tracesView } from './lists.js';
import { traceView } from './trace.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
const enc = encodeURIComponent;

const ROUTES = [
  [/^\/project\/([^/]+)\/traces\/?$/, ['pid'], tracesView, 'traces'],
  [/^\/project\/([^/]+)\/traces\/([^/]+)\/?$/, ['pid', 'traceId'], traceView, 'traces'],
  [/^\/project\/([^/]+)\/sessions\/?$/, ['pid'], sessionsView, 'sessions'],
  [/^\/project\/([^/]+)\/sessions\/([^/]+)\/?$/, ['pid', 'sessionId'], sessionView, 'sessions'],
  [/^\/project\/([^/]+)\/prompts\/(.+?)\/?$/, ['pid', 'promptName'], promptView, null],
];

function decode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

let current = null;

export function navigate(path, { replace = false } = {}) {
  history[replace ? 'replaceState' : 'pushState'](null, '', path);
  route();
}

function renderTop(auth, section) {
  const base = `/project/${enc(auth.projectId)}`;
  const item = (key, label) => h('li', null,
    h('a', { href: `${base}/${key}`, 'aria-current': section === key ? 'page' : null }, label));
  top.replaceChildren(
    h('a', { class: 'brand', href: `${base}/traces` },
      h('img', { src: new URL('./logo.svg', import.meta.url).pathname, alt: '', width: 22, height: 22 }), 'Spyglass'),
    h('nav', { 'aria-label': 'Main' }, h('ul', null, item('traces', 'Traces'), item('sessions', 'Sessions'))),
    h('span', { class: 'project', title: `Project ${auth.projectId}` }, auth.projectName),
    h('button', { type: 'button', class: 'btn ghost small', onclick: signOut }, 'Sign out'));
  top.hidden = false;
}

function signOut() {
  clearAuth();
  navigate('/');
}

function renderSignIn(message) {
  top.hidden = true;
  document.title = 'Sign in · Spyglass';
  const error = h('div', { class: 'notice error', role: 'alert', hidden: !message }, message || '');
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in');
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, h('img', { src: new URL('./logo.svg', import.meta.url).pathname, alt: '', width: 32, height: 32 }), 'Spyglass'),
    h('p', { class: 'muted' }, 'Sign in with a project API key pair, the same keys your Langfuse SDK uses.'),
    error,
    h('label', { for: 'pk' }, 'Public key'),
    h('input', { id: 'pk', name: 'pk', class: 'input', required: true, autocomplete: 'username', spellcheck: 'false', placeholder: 'pk-lf-…' }),
    h('label', { for: 'sk' }, 'Secret key'),
    h('input', { id: 'sk', name: 'sk', class: 'input', type: 'password', required: true, autocomplete: 'current-password', placeholder: 'sk-lf-…' }),
    submit,
    h('p', { class: 'fine' }, 'The keys stay in this browser tab (session storage) and are sent only to this server.'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    submit.disabled = true;
    error.hidden = true;
    try {
      await signIn(String(data.get('pk')), String(data.get('sk')));
      route();
    } catch (err) {
      error.textContent = err.status === 401 ? `Those keys were not accepted: ${err.message}` : err.message;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  clear(main).append(form);
  form.querySelector('#pk').focus();
}

async function route() {
  if (current) {
    current.abort.abort();
    for (const fn of current.cleanups) fn();
  }
  const abort = new AbortController();
  const cleanups = [];
  current = { abort, cleanups };
  const auth = getAuth();
  if (!auth) return renderSignIn();
  const path = location.pathname;
  if (path === '/' || /^\/project\/[^/]+\/?$/.test(path)) {
    return navigate(`/project/${enc(auth.projectId)}/traces`, { replace: true });
  }
  const found = ROUTES.map(([re, names, view, section]) => {
    const m = re.exec(path);
    return m && { view, section, args: Object.fromEntries(names.map((n, i) => [n, decode(m[i + 1])])) };
  }).find(Boolean);
  renderTop(auth, found && found.section);
  clear(main);
  if (!found) {
    document.title = 'Not found · Spyglass';
    main.append(h('h1', null, 'Page not found'), h('p', null, link(`/project/${enc(auth.projectId)}/traces`, 'Go to traces')));
    return;
  }
  if (found.args.pid !== auth.projectId) {
    document.title = 'Other project · Spyglass';
    main.append(h('div', { class: 'notice', role: 'alert' },
      h('p', null, 'This link is for project ', h('code', null, found.args.pid), ', but your key belongs to ',
        h('strong', null, auth.projectName), ' (', h('code', null, auth.projectId), ').'),
      h('p', null, link(`/project/${enc(auth.projectId)}/traces`, 'Go to your traces'), ' or ',
        h('button', { type: 'button', class: 'btn small', onclick: () => { clearAuth(); route(); } }, 'sign in with another key'))));
    return;
  }
  try {
    await found.view(main, {
      ...found.args, params: new URLSearchParams(location.search), signal: abort.signal,
      navigate, cleanup: (fn) => cleanups.push(fn),
    });
  } catch (err) {
    if (abort.signal.aborted || err.name === 'AbortError') return;
    if (err instanceof ApiError && err.status === 401) {
      clearAuth();
      renderSignIn(`Signed out: ${err.message}`);
      return;
    }
    clear(main).append(errorBox(err, () => route()));
  }
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || !(url.pathname === '/' || url.pathname.startsWith('/project/'))) return;
  e.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search + url.hash);
  main.focus({ preventScroll: true });
});
window.addEventListener('popstate', () => route());
route();
