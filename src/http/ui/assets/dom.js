// DOM helpers. Data only ever becomes text (text nodes, textContent, attribute values); this file
// is the only place that builds elements, and it never touches innerHTML.

/** h('div', {class: 'x', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function mount(...children) {
  const app = clear(document.getElementById('app'));
  append(app, children);
  return app;
}

/** "3 min ago" (or "in 3 min" for a time ahead, such as a lease's expiry), with the full date in
 * a title. */
export function timeEl(iso) {
  const t = new Date(iso);
  const el = h('time', { datetime: iso, title: t.toLocaleString() }, ago(t));
  return el;
}

export function ago(t) {
  const diff = (Date.now() - t.getTime()) / 1000;
  const sec = Math.abs(diff);
  const ahead = diff < 0;
  if (sec < 45) return ahead ? 'in a moment' : 'just now';
  const span = sec < 3600 ? `${Math.round(sec / 60)} min`
    : sec < 86400 ? `${Math.round(sec / 3600)} h` : null;
  if (span) return ahead ? `in ${span}` : `${span} ago`;
  return t.toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' });
}

/** A stable, pleasant colour per name. */
export function colourOf(name) {
  let hash = 0;
  for (const c of name) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 62% 52%)`;
}

export function initials(name) {
  const parts = name.replace(/[^\p{L}\p{N}]+/gu, ' ').trim().split(' ').filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : (parts[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

export function badge(text, cls) {
  return h('span', { class: `badge ${cls || ''}` }, text);
}

export function number(n) {
  return new Intl.NumberFormat().format(n);
}
