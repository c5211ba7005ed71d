// Trace detail: a virtualized observation tree (only the rows in view exist in the DOM) with a
// timeline bar per row, and a side panel for the selected node.

import { api } from './api.js';
import { append, clear, copyButton, h, link, loading } from './dom.js';
import { fmtCost, fmtDuration, fmtInt, fmtSeconds, fmtTime, scoreValue } from './format.js';
import { ioSection, jsonTree } from './json.js';
import { buildTree, matchNodes, reveal, setOpen, typeKey, visibleRows } from './tree.js';

const ROW = 30;        // px per row; must match .tree-row height in app.css
const OVERSCAN = 8;
const MAX_INDENT = 24; // deeper levels stop indenting further and show their depth

const enc = encodeURIComponent;

export function badge(type) {
  const key = type === 'TRACE' ? 'TRACE' : typeKey(type);
  return h('span', { class: `badge t-${key}`, title: type }, type);
}

function scoreChips(scores) {
  if (!scores.length) return null;
  return h('ul', { class: 'chips', 'aria-label': 'Scores' }, scores.map((s) => h('li', {
    class: 'chip score', title: [s.source, s.comment].filter(Boolean).join(' — ') || s.name,
  }, h('span', { class: 'chip-k' }, s.name), h('span', { class: 'chip-v' }, scoreValue(s)))));
}

function facts(pairs) {
  const rows = pairs.filter(([, v]) => v !== null && v !== undefined && v !== '' && v !== false);
  if (!rows.length) return null;
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function usageTable(title, details, fmt) {
  const entries = Object.entries(details || {}).filter(([, v]) => typeof v === 'number');
  if (!entries.length) return null;
  return h('table', { class: 'mini' }, h('caption', null, title),
    h('tbody', null, entries.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, fmt(v))))));
}

function panelFor(node, ctx) {
  const { trace, pid } = ctx;
  if (node.type === 'TRACE') {
    return h('div', { class: 'panel-body' },
      h('h2', null, badge('TRACE'), ' ', trace.name || 'Trace'),
      facts([
        ['Trace id', h('span', { class: 'mono' }, trace.id, ' ', copyButton(trace.id))],
        ['Time', fmtTime(trace.timestamp)],
        ['Latency', fmtSeconds(trace.latency)],
        ['Cost', fmtCost(trace.totalCost)],
        ['User', trace.userId ? link(`/project/${enc(pid)}/traces?userId=${enc(trace.userId)}`, trace.userId) : null],
        ['Session', trace.sessionId ? link(`/project/${enc(pid)}/sessions/${enc(trace.sessionId)}`, trace.sessionId) : null],
        ['Environment', trace.environment],
        ['Release', trace.release],
        ['Version', trace.version],
        ['Tags', trace.tags && trace.tags.length ? trace.tags.join(', ') : null],
      ]),
      scoreChips(ctx.scoresOf.get(null) || []),
      ioSection('Input', trace.input),
      ioSection('Output', trace.output),
      ioSection('Metadata', trace.metadata, { open: false }));
  }
  const o = node.obs;
  const level = o.level && o.level !== 'DEFAULT'
    ? h('span', { class: `level lv-${o.level}` }, o.level) : null;
  const prompt = o.promptName
    ? link(`/project/${enc(pid)}/prompts/${enc(o.promptName)}${o.promptVersion ? `?version=${enc(o.promptVersion)}` : ''}`,
      `${o.promptName}${o.promptVersion ? ` v${o.promptVersion}` : ''}`)
    : null;
  const usage = o.usageDetails && Object.keys(o.usageDetails).length ? o.usageDetails : null;
  return h('div', { class: 'panel-body' },
    h('h2', null, badge(o.type || 'SPAN'), ' ', node.name, ' ', level),
    o.statusMessage ? h('p', { class: `status-msg lv-${o.level || 'DEFAULT'}` }, o.statusMessage) : null,
    facts([
      ['Observation id', h('span', { class: 'mono' }, o.id, ' ', copyButton(o.id))],
      ['Start', fmtTime(o.startTime)],
      ['Duration', node.end !== null && node.start !== null ? fmtDuration(node.end - node.start) : 'not ended'],
      ['Time to first token', typeof o.timeToFirstToken === 'number' ? fmtSeconds(o.timeToFirstToken) : null],
      ['Model', o.model],
      ['Prompt', prompt],
      ['Cost', typeof o.calculatedTotalCost === 'number' ? fmtCost(o.calculatedTotalCost) : null],
      ['Environment', o.environment],
      ['Version', o.version],
      ['Children', node.children.length ? `${fmtInt(node.children.length)} (${fmtInt(node.size - 1)} below)` : null],
      ['Parent', node.orphan ? `${o.parentObservationId} (${node.orphan === 'cycle' ? 'parent cycle' : 'not in this trace'})` : null],
    ]),
    scoreChips(ctx.scoresOf.get(o.id) || []),
    o.modelParameters && Object.keys(o.modelParameters).length
      ? h('details', { class: 'io' }, h('summary', null, h('span', { class: 'io-title' }, 'Model parameters')),
        jsonTree(o.modelParameters, 1))
      : null,
    usage || (o.costDetails && Object.keys(o.costDetails).length)
      ? h('div', { class: 'usage' }, usageTable('Usage', usage, fmtInt), usageTable('Cost (USD)', o.costDetails, fmtCost))
      : null,
    ioSection('Input', o.input),
    ioSection('Output', o.output),
    ioSection('Metadata', o.metadata, { open: false }));
}

/**
 * The virtualized tree: rows are absolutely positioned inside a spacer as tall as all rows. Only
 * rows in view (plus a margin) exist; a row's element is kept while it stays in view, so moving
 * the selection or scrolling by a row touches a handful of nodes. Geometry is cached (no forced
 * layout per key press).
 */
class TreeList {
  constructor(model, onSelect) {
    this.model = model;
    this.onSelect = onSelect;
    this.match = null;
    this.rows = visibleRows(model.root);
    this.active = 0;
    this.live = new Map();  // node -> its row element, for the rows in the DOM
    this.top = 0;
    this.viewH = 600;
    this.spacer = h('div', { class: 'tree-spacer' });
    this.el = h('div', {
      class: 'tree', role: 'tree', tabindex: '0', 'aria-label': 'Observations',
      onkeydown: (e) => this.key(e), onclick: (e) => this.click(e),
      onscroll: () => { this.top = this.el.scrollTop; this.schedule(); },
    }, this.spacer);
    this.frame = 0;
    this.resize = new ResizeObserver(([entry]) => { this.viewH = entry.contentRect.height || 600; this.schedule(); });
    this.resize.observe(this.el);
  }

  destroy() {
    this.resize.disconnect();
    cancelAnimationFrame(this.frame);
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  /** Recomputes the visible rows (after open/close or filtering); row elements are rebuilt. */
  refresh(keep) {
    this.rows = visibleRows(this.model.root, this.match);
    const at = keep ? this.rows.indexOf(keep) : -1;
    this.active = at >= 0 ? at : Math.max(0, Math.min(this.active, this.rows.length - 1));
    for (const el of this.live.values()) el.remove();
    this.live.clear();
    this.spacer.style.height = `${this.rows.length * ROW}px`;
    this.render();
  }

  render() {
    const { rows } = this;
    const height = `${rows.length * ROW}px`;
    if (this.spacer.style.height !== height) this.spacer.style.height = height;
    const first = Math.max(0, Math.floor(this.top / ROW) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((this.top + this.viewH) / ROW) + OVERSCAN);
    const next = new Map();
    let prev = null;
    for (let i = first; i < last; i++) {
      const n = rows[i];
      let el = this.live.get(n);
      if (!el) {
        el = this.row(n);
        if (prev) prev.after(el); else this.spacer.prepend(el);
      }
      next.set(n, el);
      this.place(el, i);
      prev = el;
    }
    for (const [n, el] of this.live) if (!next.has(n)) el.remove();
    this.live = next;
    if (rows[this.active]) this.el.setAttribute('aria-activedescendant', `tn-${this.active}`);
    else this.el.removeAttribute('aria-activedescendant');
  }

  /** Index-dependent state of a row element (position, id, selection), set only on change. */
  place(el, i) {
    if (el.rowIndex !== i) {
      el.rowIndex = i;
      el.id = `tn-${i}`;
      el.dataset.i = String(i);
      el.style.top = `${i * ROW}px`;
    }
    const selected = i === this.active;
    if (el.selected !== selected) {
      el.selected = selected;
      el.classList.toggle('is-selected', selected);
      el.setAttribute('aria-selected', String(selected));
    }
  }

  row(n) {
    const hasKids = n.children.length > 0;
    const indent = Math.min(n.depth, MAX_INDENT);
    const cls = ['tree-row', n.level === 'ERROR' ? 'is-error' : '', n.level === 'WARNING' ? 'is-warning' : ''].join(' ');
    const el = h('div', {
      class: cls, role: 'treeitem', 'aria-level': n.depth + 1,
      'aria-expanded': hasKids ? String(n.open || !!this.match) : null,
      'aria-setsize': n.parent ? n.parent.children.length : 1, 'aria-posinset': n.pos,
    });
    const name = h('span', { class: 'cell-name' });
    name.style.paddingLeft = `${indent * 14 + 4}px`;
    append(name, [
      h('span', { class: `twisty${hasKids ? '' : ' leaf'}`, 'aria-hidden': 'true', dataset: { toggle: '1' } },
        hasKids ? (n.open || this.match ? '▾' : '▸') : '·'),
      badge(n.type),
      h('span', { class: 'nm', title: n.name }, n.name),
      n.depth > MAX_INDENT ? h('span', { class: 'depth', title: 'Nesting depth' }, `L${n.depth}`) : null,
      hasKids && !n.open && !this.match && n.errors ? h('span', { class: 'err-dot', title: `${n.errors} error(s) inside` }, n.errors) : null,
      n.obs && n.obs.model ? h('span', { class: 'model' }, n.obs.model) : null,
    ]);
    const bar = h('span', { class: `bar t-${n.type === 'TRACE' ? 'TRACE' : typeKey(n.type)}` });
    bar.style.left = `${n.left}%`;
    bar.style.width = `max(2px, ${n.width}%)`;
    const dur = n.end !== null && n.start !== null ? fmtDuration(n.end - n.start) : '';
    const time = h('span', { class: 'cell-time' }, h('span', { class: 'track' }, bar), h('span', { class: 'dur' }, dur));
    el.append(name, time);
    return el;
  }

  select(i, { scroll = true, focus = false, immediate = false } = {}) {
    if (!this.rows.length) return;
    this.active = Math.max(0, Math.min(i, this.rows.length - 1));
    if (scroll) this.scrollTo(this.active);
    this.render();
    if (focus) this.el.focus({ preventScroll: true });
    this.onSelect(this.rows[this.active], immediate);
  }

  /** Scrolls just enough to show row `i` (or puts it a third down the view with `center`). */
  scrollTo(i, center = false) {
    const y = i * ROW;
    let top = this.top;
    if (center) top = Math.max(0, y - this.viewH / 3);
    else if (y < top) top = y;
    else if (y + ROW > top + this.viewH) top = y + ROW - this.viewH;
    if (top !== this.top) {
      this.top = top;
      this.el.scrollTop = top;
    }
  }

  selectNode(node, opts) {
    if (!this.match) reveal(node);
    this.refresh();
    const i = this.rows.indexOf(node);
    if (i >= 0) this.select(i, opts);
  }

  toggle(n, open = !n.open) {
    if (!n.children.length || this.match) return;
    n.open = open;
    this.refresh(this.rows[this.active]);
  }

  click(e) {
    const row = e.target.closest('.tree-row');
    if (!row) return;
    const i = Number(row.dataset.i);
    if (e.target.closest('[data-toggle]')) this.toggle(this.rows[i]);
    this.select(i, { scroll: false, focus: true, immediate: true });
  }

  key(e) {
    const n = this.rows[this.active];
    if (!n) return;
    const page = Math.max(1, Math.floor(this.viewH / ROW) - 1);
    const moves = {
      ArrowDown: () => this.select(this.active + 1),
      ArrowUp: () => this.select(this.active - 1),
      PageDown: () => this.select(this.active + page),
      PageUp: () => this.select(this.active - page),
      Home: () => this.select(0),
      End: () => this.select(this.rows.length - 1),
      ArrowRight: () => {
        if (n.children.length && !n.open && !this.match) this.toggle(n, true);
        else if (n.children.length) this.select(this.active + 1);
      },
      ArrowLeft: () => {
        if (n.children.length && n.open && !this.match) this.toggle(n, false);
        else if (n.parent) this.selectNode(n.parent);
      },
      Enter: () => this.toggle(n),
      ' ': () => this.toggle(n),
    };
    const move = moves[e.key];
    if (!move || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    move();
  }
}

function axis(model) {
  const span = model.end - model.start;
  return h('div', { class: 'axis', 'aria-hidden': 'true' },
    [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const tick = h('span', { class: 'tick' }, fmtDuration(span * f));
      tick.style.left = `${f * 100}%`;
      return tick;
    }));
}

export async function traceView(main, { pid, traceId, params, signal, cleanup }) {
  main.append(loading('Loading trace'));
  const started = performance.now();
  const trace = await api(`/api/public/traces/${enc(traceId)}`, null, { signal });
  const model = buildTree(trace);
  const scoresOf = new Map();
  for (const s of trace.scores || []) {
    const k = s.observationId || null;
    if (!scoresOf.has(k)) scoresOf.set(k, []);
    scoresOf.get(k).push(s);
  }
  const ctx = { trace, pid, scoresOf };
  const count = model.nodes.length - 1;
  const errors = model.root.errors;
  const warnings = model.root.warnings;

  const panel = h('aside', { class: 'panel', 'aria-label': 'Selected observation' });
  let pending = 0;
  const show = (node, immediate) => {
    clearTimeout(pending);
    const paint = () => {
      panel.replaceChildren(panelFor(node, ctx));
      const url = new URL(location.href);
      if (node.type === 'TRACE') url.searchParams.delete('observation');
      else url.searchParams.set('observation', node.id);
      history.replaceState(history.state, '', url);
    };
    if (immediate) paint();
    else pending = setTimeout(paint, 60);  // holding an arrow key should not re-render big JSON per row
  };
  const list = new TreeList(model, show);
  cleanup(() => { list.destroy(); clearTimeout(pending); });

  const filter = h('input', {
    type: 'search', class: 'input', placeholder: 'Filter by name, type, model, id, level',
    'aria-label': 'Filter observations',
  });
  let filterTimer = 0;
  filter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      const keep = list.rows[list.active];
      list.match = matchNodes(model.nodes, filter.value);
      list.refresh(keep);
      matchCount.textContent = list.match ? `${fmtInt(list.rows.length)} shown` : '';
    }, 120);
  });
  const matchCount = h('span', { class: 'muted', role: 'status' });
  const errorNodes = model.nodes.filter((n) => n.level === 'ERROR');
  let errorAt = -1;
  const nextError = errorNodes.length ? h('button', {
    type: 'button', class: 'btn small danger',
    onclick: () => {
      errorAt = (errorAt + 1) % errorNodes.length;
      list.selectNode(errorNodes[errorAt], { focus: true, immediate: true });
    },
  }, `Next error (${fmtInt(errorNodes.length)})`) : null;

  const t = trace;
  const header = h('header', { class: 'trace-head' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      link(`/project/${enc(pid)}/traces`, 'Traces'), ' / ',
      t.sessionId ? [link(`/project/${enc(pid)}/sessions/${enc(t.sessionId)}`, `Session ${t.sessionId}`), ' / '] : null,
      h('span', { class: 'mono' }, t.id)),
    h('h1', null, t.name || 'Unnamed trace'),
    h('p', { class: 'stats' },
      h('span', null, fmtTime(t.timestamp)),
      h('span', null, `Latency ${fmtSeconds(t.latency)}`),
      h('span', null, `Cost ${fmtCost(t.totalCost)}`),
      h('span', null, `${fmtInt(count)} observation${count === 1 ? '' : 's'}`),
      errors ? h('span', { class: 'lv-ERROR' }, `${fmtInt(errors)} error${errors === 1 ? '' : 's'}`) : null,
      warnings ? h('span', { class: 'lv-WARNING' }, `${fmtInt(warnings)} warning${warnings === 1 ? '' : 's'}`) : null,
      t.userId ? h('span', null, 'User ', link(`/project/${enc(pid)}/traces?userId=${enc(t.userId)}`, t.userId)) : null,
      t.environment ? h('span', null, `Env ${t.environment}`) : null,
      (t.tags || []).map((tag) => h('span', { class: 'tag' }, tag))),
    scoreChips(scoresOf.get(null) || []));

  const tools = h('div', { class: 'tree-tools' }, filter,
    h('button', { type: 'button', class: 'btn small', onclick: () => { setOpen(model.nodes, true); list.refresh(list.rows[list.active]); } }, 'Expand all'),
    h('button', { type: 'button', class: 'btn small', onclick: () => { setOpen(model.nodes, false); model.root.open = true; list.refresh(list.rows[list.active]); } }, 'Collapse all'),
    nextError, matchCount);

  clear(main).append(h('section', { class: 'trace' }, header,
    h('div', { class: 'split' },
      h('div', { class: 'tree-pane' }, tools,
        h('div', { class: 'tree-cols', 'aria-hidden': 'true' }, h('span', null, 'Name'),
          h('span', { class: 'cell-time' }, axis(model), h('span', { class: 'dur' }, 'Duration'))),
        list.el),
      panel)));
  document.title = `${t.name || t.id} · Trace · Spyglass`;

  const wanted = params.get('observation');
  const target = wanted && model.byId.get(wanted);
  if (target) {
    list.selectNode(target, { immediate: true, scroll: false });
    list.viewH = list.el.clientHeight || list.viewH;
    list.scrollTo(list.active, true);
    list.render();
  } else {
    list.select(0, { immediate: true });
  }
  main.dataset.renderMs = String(Math.round(performance.now() - started));
}
