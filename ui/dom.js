// DOM helpers. Everything from the API goes in as text nodes or attributes, never as HTML.

/** h('a', {href, class, onclick}, child, ...): children are nodes or strings (text). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** A link routed by the app (same-origin path); the router intercepts plain clicks. */
export function link(path, ...children) {
  return h('a', { href: path }, ...children);
}

export function copyButton(text, label = 'Copy') {
  const btn = h('button', { type: 'button', class: 'btn ghost small', title: `Copy ${text}` }, label);
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
    } catch {
      btn.textContent = 'Copy failed';
    }
    setTimeout(() => { btn.textContent = label; }, 1200);
  });
  return btn;
}

/** An inline error box, with an optional retry. */
export function errorBox(err, retry) {
  return h('div', { class: 'notice error', role: 'alert' },
    h('strong', null, err.status ? `Error ${err.status}` : 'Error'), ' ', err.message || String(err),
    retry ? h('button', { type: 'button', class: 'btn small', onclick: retry }, 'Retry') : null);
}

export function loading(what = 'Loading') {
  return h('p', { class: 'loading', role: 'status' }, `${what}…`);
}
