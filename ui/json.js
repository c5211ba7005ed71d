// Input/output viewer: collapsible JSON built lazily (children exist only once opened), strings
// as plain text, chat messages as a list, media references as links resolved on click.

import { mediaInfo } from './api.js';
import { h } from './dom.js';
import { fmtBytes, safeUrl, splitMedia } from './format.js';

const CHUNK = 200;        // children rendered per "show more"
const LONG_TEXT = 20000;  // characters shown before "show all"

function mediaLink(ref) {
  const label = `${ref.type || 'media'} · ${ref.id}`;
  const btn = h('button', { type: 'button', class: 'media', title: 'Resolve this media reference (not loaded automatically)' }, `Media: ${label}`);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    btn.textContent = `Resolving ${label}…`;
    try {
      const info = await mediaInfo(ref.id);
      const url = safeUrl(info && info.url);
      if (!url) throw new Error('no download URL');
      const size = fmtBytes(info.contentLength);
      btn.replaceWith(h('a', { class: 'media', href: url, target: '_blank', rel: 'noopener noreferrer' },
        `Open ${info.contentType || ref.type || 'media'}${size ? ` (${size})` : ''}`));
    } catch (err) {
      btn.disabled = false;
      btn.textContent = `Media: ${label} — ${err.message}`;
    }
  });
  return btn;
}

/** Text with media references turned into buttons; very long text is cut with a "show all". */
export function textView(text, cls = 'text') {
  const el = h('div', { class: cls });
  const fill = (s) => {
    for (const part of splitMedia(s)) el.append(typeof part === 'string' ? part : mediaLink(part.media));
  };
  if (text.length > LONG_TEXT) {
    fill(text.slice(0, LONG_TEXT));
    const more = h('button', { type: 'button', class: 'btn small' }, `Show all ${text.length.toLocaleString()} characters`);
    more.addEventListener('click', () => { el.replaceChildren(); fill(text); });
    el.append('… ', more);
  } else {
    fill(text);
  }
  return el;
}

function primitive(value) {
  if (value === null) return h('span', { class: 'j-null' }, 'null');
  switch (typeof value) {
    case 'string': return textView(value, 'j-str');
    case 'number': return h('span', { class: 'j-num' }, String(value));
    case 'boolean': return h('span', { class: 'j-bool' }, String(value));
    default: return h('span', { class: 'j-null' }, String(value));
  }
}

function keyLabel(key) {
  return key === null ? null : h('span', { class: 'j-key' }, typeof key === 'number' ? `${key}` : key);
}

function node(key, value, depth, openDepth) {
  if (value === null || typeof value !== 'object') {
    return h('div', { class: 'j-row' }, keyLabel(key), primitive(value));
  }
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  const brackets = isArray ? `[${entries.length}]` : `{${entries.length}}`;
  if (entries.length === 0) {
    return h('div', { class: 'j-row' }, keyLabel(key), h('span', { class: 'j-meta' }, isArray ? '[]' : '{}'));
  }
  const details = h('details', { class: 'j' }, h('summary', null, keyLabel(key), h('span', { class: 'j-meta' }, brackets)));
  let shown = 0;
  let kids = null;
  const more = h('button', { type: 'button', class: 'btn small' });
  const fillMore = () => {
    const end = Math.min(shown + CHUNK, entries.length);
    for (; shown < end; shown++) more.before(node(entries[shown][0], entries[shown][1], depth + 1, openDepth));
    if (shown >= entries.length) more.remove();
    else more.textContent = `Show ${Math.min(CHUNK, entries.length - shown)} more of ${entries.length - shown}`;
  };
  more.addEventListener('click', fillMore);
  const fill = () => {
    if (kids) return;
    kids = h('div', { class: 'j-kids' }, more);
    details.append(kids);
    fillMore();
  };
  details.addEventListener('toggle', () => { if (details.open) fill(); });
  if (depth < openDepth) {
    details.open = true;
    fill();
  }
  return details;
}

/** A JSON value as a tree (objects open `openDepth` levels deep). */
export function jsonTree(value, openDepth = 2) {
  return h('div', { class: 'json' }, node(null, value, 0, openDepth));
}

const isMessage = (m) => m && typeof m === 'object' && !Array.isArray(m) && typeof m.role === 'string';

function isChat(value) {
  return Array.isArray(value) && value.length > 0 && value.length <= 500
    && value.every(isMessage);
}

function chatView(messages) {
  return h('ol', { class: 'chat' }, messages.map((m) => {
    const { role, content, ...rest } = m;
    const body = typeof content === 'string' ? textView(content) : (content === undefined ? null : jsonTree(content, 3));
    return h('li', { class: `msg role-${/^[a-z_]+$/.test(role) ? role : 'other'}` },
      h('span', { class: 'role' }, role), body,
      Object.keys(rest).length ? jsonTree(rest, 1) : null);
  }));
}

function pretty(value) {
  if (value === null || value === undefined) return h('p', { class: 'muted' }, value === null ? 'null' : 'Not set');
  if (typeof value === 'string') return textView(value);
  if (isChat(value)) return chatView(value);
  if (isMessage(value) && 'content' in value) return chatView([value]);
  if (typeof value === 'object') return jsonTree(value);
  return primitive(value);
}

function raw(value) {
  let text;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  return textView(text ?? 'undefined', 'raw');
}

/** A titled, collapsible I/O section with a Pretty/Raw switch. */
export function ioSection(title, value, { open = true } = {}) {
  const body = h('div', { class: 'io-body' }, pretty(value));
  let mode = 'pretty';
  const toggle = h('button', { type: 'button', class: 'btn ghost small', 'aria-pressed': 'false' }, 'Raw');
  toggle.addEventListener('click', (e) => {
    e.preventDefault();
    mode = mode === 'pretty' ? 'raw' : 'pretty';
    body.replaceChildren(mode === 'raw' ? raw(value) : pretty(value));
    toggle.textContent = mode === 'raw' ? 'Pretty' : 'Raw';
    toggle.setAttribute('aria-pressed', String(mode === 'raw'));
  });
  const empty = value === null || value === undefined || value === ''
    || (typeof value === 'object' && Object.keys(value).length === 0);
  return h('details', { class: 'io', open: open && !empty },
    h('summary', null, h('span', { class: 'io-title' }, title), empty ? h('span', { class: 'muted' }, ' — empty') : null,
      empty ? null : toggle),
    body);
}
