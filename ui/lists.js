// Traces and sessions lists, a session's traces, and a linked prompt.

import { api, query } from './api.js';
import { clear, h, link, loading } from './dom.js';
import { fmtCost, fmtInt, fmtSeconds, fmtTime, ms, shortId } from './format.js';
import { ioSection, textView } from './json.js';

const enc = encodeURIComponent;
const LIMIT = 50;
const RANGES = { '': 'Any time', '1h': 'Last hour', '24h': 'Last 24 hours', '7d': 'Last 7 days', '30d': 'Last 30 days' };
const RANGE_MS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };

const csv = (s) => (s || '').split(',').map((x) => x.trim()).filter(Boolean);

function toLocalInput(iso) {
  const t = ms(iso);
  if (t === null) return '';
  return new Date(t - new Date(t).getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function fromLocalInput(value) {
  const t = value ? Date.parse(value) : NaN;  // "YYYY-MM-DDTHH:MM" parses as local time
  return Number.isFinite(t) ? new Date(t).toISOString() : '';
}

/** The time window from the URL: a preset (`range`) or explicit `from`/`to`. */
function timeWindow(params) {
  const range = params.get('range');
  if (range && RANGE_MS[range]) return { fromTimestamp: new Date(Date.now() - RANGE_MS[range]).toISOString() };
  return { fromTimestamp: params.get('from') || '', toTimestamp: params.get('to') || '' };
}

function field(label, name, value, attrs = {}) {
  const id = `f-${name}`;
  return h('div', { class: 'field' }, h('label', { for: id }, label),
    h('input', { id, name, class: 'input', value: value || '', autocomplete: 'off', ...attrs }));
}

/** The filter form: text fields plus a time window; submitting rewrites the URL (page 1). */
function filterForm(params, fields, navigate) {
  const range = params.get('range') || '';
  const select = h('select', { id: 'f-range', name: 'range', class: 'input' },
    Object.entries(RANGES).map(([v, label]) => h('option', { value: v, selected: v === range }, label)),
    h('option', { value: 'custom', selected: !range && (params.get('from') || params.get('to')) }, 'Custom…'));
  const from = field('From', 'from', toLocalInput(params.get('from')), { type: 'datetime-local' });
  const to = field('To', 'to', toLocalInput(params.get('to')), { type: 'datetime-local' });
  const syncCustom = () => { from.hidden = to.hidden = select.value !== 'custom'; };
  select.addEventListener('change', syncCustom);
  syncCustom();
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filters' },
    fields.map(([label, name, placeholder]) => field(label, name, params.get(name), { placeholder })),
    h('div', { class: 'field' }, h('label', { for: 'f-range' }, 'Time'), select), from, to,
    h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Apply'),
      h('button', { type: 'button', class: 'btn ghost', onclick: () => navigate(location.pathname) }, 'Reset')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const out = {};
    for (const [, name] of fields) out[name] = String(data.get(name) || '').trim();
    const r = String(data.get('range') || '');
    if (r === 'custom') {
      out.from = fromLocalInput(String(data.get('from') || ''));
      out.to = fromLocalInput(String(data.get('to') || ''));
    } else {
      out.range = r;
    }
    const qs = query(out).toString();
    navigate(qs ? `${location.pathname}?${qs}` : location.pathname);
  });
  return form;
}

function pager(meta, params, navigate) {
  const page = meta.page || 1;
  const pages = meta.totalPages || 1;
  const go = (p) => {
    const next = new URLSearchParams(params);
    if (p > 1) next.set('page', String(p)); else next.delete('page');
    const qs = next.toString();
    navigate(qs ? `${location.pathname}?${qs}` : location.pathname);
  };
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', class: 'btn small', disabled: page <= 1, onclick: () => go(page - 1) }, '‹ Previous'),
    h('span', null, `Page ${fmtInt(page)} of ${fmtInt(pages)} · ${fmtInt(meta.totalItems)} total`),
    h('button', { type: 'button', class: 'btn small', disabled: page >= pages, onclick: () => go(page + 1) }, 'Next ›'));
}

function table(caption, columns, rows, rowHref, navigate) {
  const body = h('tbody', null, rows);
  if (rowHref) {
    body.addEventListener('click', (e) => {
      const tr = e.target.closest('tr[data-href]');
      if (!tr || e.target.closest('a, button') || getSelection().toString()) return;
      navigate(tr.dataset.href);
    });
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null, columns.map(([label, cls]) => h('th', { scope: 'col', class: cls }, label)))),
    body));
}

function tags(list) {
  return (list || []).map((t) => h('span', { class: 'tag' }, t));
}

function pageOf(params) {
  const p = Number.parseInt(params.get('page') || '1', 10);
  return Number.isFinite(p) && p > 0 ? p : 1;
}

export async function tracesView(main, { pid, params, signal, navigate }) {
  document.title = 'Traces · Spyglass';
  const status = h('div', { class: 'list-status', role: 'status' }, loading('Loading traces'));
  main.append(h('h1', null, 'Traces'), filterForm(params, [
    ['Name', 'name', 'exact name'], ['User', 'userId', 'user id'], ['Session', 'sessionId', 'session id'],
    ['Tags', 'tags', 'a, b (all of)'], ['Environment', 'environment', 'production, …'],
  ], navigate), status);
  const body = await api('/api/public/traces', {
    page: pageOf(params), limit: LIMIT, fields: 'core,metrics,observations',
    name: params.get('name'), userId: params.get('userId'), sessionId: params.get('sessionId'),
    tags: csv(params.get('tags')), environment: csv(params.get('environment')), ...timeWindow(params),
  }, { signal });
  const base = `/project/${enc(pid)}`;
  const rows = body.data.map((t) => h('tr', { dataset: { href: `${base}/traces/${enc(t.id)}` } },
    h('td', { class: 'nowrap' }, fmtTime(t.timestamp)),
    h('td', null, link(`${base}/traces/${enc(t.id)}`, t.name || h('span', { class: 'mono' }, shortId(t.id)))),
    h('td', null, t.userId ? link(`${base}/traces?userId=${enc(t.userId)}`, t.userId) : ''),
    h('td', null, t.sessionId ? link(`${base}/sessions/${enc(t.sessionId)}`, shortId(t.sessionId)) : ''),
    h('td', { class: 'num' }, fmtSeconds(t.latency)),
    h('td', { class: 'num' }, fmtCost(t.totalCost)),
    h('td', null, tags(t.tags)),
    h('td', { class: 'num' }, fmtInt((t.observations || []).length))));
  status.replaceChildren(rows.length
    ? table('Traces', [['Time'], ['Name'], ['User'], ['Session'], ['Latency', 'num'], ['Cost', 'num'], ['Tags'],
      ['Observations', 'num']], rows, true, navigate)
    : h('p', { class: 'empty' }, 'No traces match. Send some with a Langfuse SDK or OpenTelemetry, or widen the filters.'),
  pager(body.meta || {}, params, navigate));
}

export async function sessionsView(main, { pid, params, signal, navigate }) {
  document.title = 'Sessions · Spyglass';
  const status = h('div', { class: 'list-status', role: 'status' }, loading('Loading sessions'));
  main.append(h('h1', null, 'Sessions'),
    filterForm(params, [['Environment', 'environment', 'production, …']], navigate), status);
  const body = await api('/api/public/sessions', {
    page: pageOf(params), limit: LIMIT, environment: csv(params.get('environment')), ...timeWindow(params),
  }, { signal });
  const base = `/project/${enc(pid)}/sessions`;
  const rows = body.data.map((s) => h('tr', { dataset: { href: `${base}/${enc(s.id)}` } },
    h('td', null, link(`${base}/${enc(s.id)}`, h('span', { class: 'mono' }, s.id))),
    h('td', { class: 'nowrap' }, fmtTime(s.createdAt)),
    h('td', null, s.environment || '')));
  status.replaceChildren(rows.length
    ? table('Sessions', [['Session'], ['Created'], ['Environment']], rows, true, navigate)
    : h('p', { class: 'empty' }, 'No sessions. Traces join a session when they carry a session id.'),
  pager(body.meta || {}, params, navigate));
}

const SESSION_CHUNK = 50;

export async function sessionView(main, { pid, sessionId, signal }) {
  document.title = `Session ${sessionId} · Spyglass`;
  main.append(loading('Loading session'));
  const s = await api(`/api/public/sessions/${enc(sessionId)}`, null, { signal });
  const traces = [...(s.traces || [])].sort((a, b) => (ms(a.timestamp) ?? 0) - (ms(b.timestamp) ?? 0));
  const base = `/project/${enc(pid)}`;
  const list = h('ol', { class: 'cards' });
  let shown = 0;
  const more = h('button', { type: 'button', class: 'btn' });
  const showMore = () => {
    const end = Math.min(shown + SESSION_CHUNK, traces.length);
    for (; shown < end; shown++) {
      const t = traces[shown];
      list.append(h('li', { class: 'card' },
        h('header', null,
          h('span', { class: 'muted nowrap' }, fmtTime(t.timestamp)),
          h('strong', null, link(`${base}/traces/${enc(t.id)}`, t.name || shortId(t.id))),
          t.userId ? h('span', null, 'User ', link(`${base}/traces?userId=${enc(t.userId)}`, t.userId)) : null,
          tags(t.tags)),
        h('div', { class: 'card-io' }, ioSection('Input', t.input), ioSection('Output', t.output))));
    }
    more.hidden = shown >= traces.length;
    more.textContent = `Show ${Math.min(SESSION_CHUNK, traces.length - shown)} more of ${traces.length - shown}`;
  };
  more.addEventListener('click', showMore);
  showMore();
  clear(main).append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, link(`${base}/sessions`, 'Sessions'), ' / ',
      h('span', { class: 'mono' }, s.id)),
    h('h1', null, 'Session ', h('span', { class: 'mono' }, s.id)),
    h('p', { class: 'stats' }, h('span', null, `Started ${fmtTime(s.createdAt)}`),
      h('span', null, `${fmtInt(traces.length)} trace${traces.length === 1 ? '' : 's'}`),
      s.environment ? h('span', null, `Env ${s.environment}`) : null,
      link(`${base}/traces?sessionId=${enc(s.id)}`, 'Open in traces list')),
    list, more);
}

export async function promptView(main, { promptName, params, signal }) {
  document.title = `Prompt ${promptName} · Spyglass`;
  main.append(loading('Loading prompt'));
  const version = params.get('version');
  const p = await api(`/api/public/v2/prompts/${promptName.split('/').map(enc).join('/')}`,
    version ? { version } : { label: params.get('label') || 'production' }, { signal });
  const prompt = Array.isArray(p.prompt)
    ? h('ol', { class: 'chat' }, p.prompt.map((m) => h('li', { class: 'msg' },
      h('span', { class: 'role' }, m.role || m.type || ''), textView(typeof m.content === 'string' ? m.content
        : (m.name ? `{{${m.name}}}` : JSON.stringify(m))))))
    : textView(String(p.prompt ?? ''));
  clear(main).append(
    h('h1', null, 'Prompt ', h('span', { class: 'mono' }, p.name), ` v${p.version}`),
    h('p', { class: 'stats' }, h('span', null, `Type ${p.type}`), tags(p.labels), tags(p.tags)),
    h('section', { class: 'prompt' }, prompt),
    ioSection('Config', p.config, { open: true }));
}
