// DOM helpers. Every piece of text that comes from the server (titles, descriptions, log
// lines, tool output) reaches the page through text nodes or `textContent`, never as markup:
// incident text is untrusted.

const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open', 'required', 'multiple', 'min', 'max', 'step']);

/** Creates an element; children that are not nodes become text nodes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Creates an SVG element. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v != null) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'testid') el.dataset.testid = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Appends children (text for non-nodes; null and false skipped). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** A link inside the app; only ids we built ourselves go into the href. */
export function incidentHref(id) {
  return `#/incidents/${encodeURIComponent(id)}`;
}

export function prettyJson(value) {
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** A `<details>` whose body is built only when first opened (payloads can be large). */
export function lazyDetails(label, build, key, openKeys) {
  const body = h('div');
  let built = false;
  const d = h('details', { dataset: key ? { key } : {} }, h('summary', {}, label), body);
  const populate = () => {
    if (!built && d.open) { built = true; append(body, [build()]); }
    if (key && openKeys) { if (d.open) openKeys.add(key); else openKeys.delete(key); }
  };
  d.addEventListener('toggle', populate);
  if (key && openKeys?.has(key)) { d.open = true; populate(); }
  return d;
}

export function jsonDetails(label, value, key, openKeys) {
  return lazyDetails(label, () => h('pre', {}, prettyJson(value)), key, openKeys);
}
