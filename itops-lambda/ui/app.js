// itops web UI: a single-page app over the itops HTTP API. Plain ES module, no framework, no
// build step, nothing loaded from elsewhere.
//
// Every piece of text that comes from the server (titles, descriptions, log lines, tool
// output) reaches the page through text nodes or `textContent`, never as markup: incident
// text is untrusted.

const TOKEN_KEY = 'itops.token';
const API_BASE = (document.querySelector('meta[name="itops-api-base"]')?.content || '').replace(/\/$/, '');

const SEVERITIES = ['critical', 'high', 'medium', 'low'];
const STATUSES = [
  'open', 'triaging', 'investigating', 'planning', 'awaiting_approval',
  'executing', 'verifying', 'resolved', 'escalated',
];
const TERMINAL = new Set(['resolved', 'escalated']);
/** Timeline kinds after which the workflow checkpoint has changed. */
const CHECKPOINT_KINDS = new Set([
  'triage', 'finding', 'plan', 'approval_requested', 'approval_decided', 'action',
  'verification', 'error', 'decision',
]);
/** The agents' reasoning steps, hidden by the "key events" timeline filter. */
const STEP_KINDS = new Set(['thought', 'tool_call', 'observation']);
const KIND_LABELS = {
  created: 'created', updated: 'updated', status_changed: 'status', thought: 'thought',
  tool_call: 'tool call', observation: 'observed', decision: 'decision', triage: 'triage',
  finding: 'finding', plan: 'plan', approval_requested: 'approval?', approval_decided: 'approval',
  action: 'action', verification: 'verify', notification: 'notify', note: 'note', error: 'error',
};
const LIST_PAGE = 25;
const TIMELINE_PAGE = 500;

const state = {
  token: null,
  me: null,
  simulator: null,
};

/** Filters of the incident list, kept while the user moves between pages. */
const listFilters = { status: '', severity: '', service: '' };

// ---- DOM helpers ---------------------------------------------------------------------------

const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open', 'required', 'multiple', 'min', 'max', 'step']);

/** Creates an element; children that are not nodes become text nodes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Creates an SVG element. */
function svg(tag, attrs, ...children) {
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
function add(el, ...children) {
  append(el, children);
  return el;
}

/** Replaces an element's children. */
function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

/** A link inside the app; only ids we built ourselves go into the href. */
function incidentHref(id) {
  return `#/incidents/${encodeURIComponent(id)}`;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

// ---- formatting ----------------------------------------------------------------------------

function fmtTime(value) {
  if (!value) return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

function fmtClock(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/**
 * A `<time>` showing local time, with the exact instant on hover. No "5 min ago": the server's
 * clock is simulated time when it runs the simulator, and runs ahead of the browser's.
 */
function timeEl(value, short = false) {
  if (!value) return h('span', { class: 'muted' }, '—');
  const d = new Date(value);
  const title = Number.isNaN(d.getTime()) ? String(value) : d.toISOString();
  return h('time', { datetime: String(value), title }, short ? fmtClock(value) : fmtTime(value));
}

function words(s) {
  return String(s ?? '').replace(/_/g, ' ');
}

function fmtNumber(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1).replace(/\.0$/, '');
  if (a === 0) return '0';
  return v.toPrecision(2);
}

function actorText(actor) {
  if (!actor) return 'unknown';
  if (typeof actor === 'string') return actor;
  const type = actor.type || 'unknown';
  return actor.name ? `${words(type)} ${actor.name}` : words(type);
}

function prettyJson(value) {
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

function badge(kind, value, extra = {}) {
  return h('span', { class: `badge ${kind}-${value}`, ...extra }, words(value));
}
const sevBadge = (s) => badge('sev', s, { title: 'severity' });
const statusBadge = (s, extra = {}) => badge('st', s, { title: 'status', dataset: { status: s }, ...extra });
const riskBadge = (r) => badge('risk', r, { title: 'risk' });

/** A `<details>` whose body is built only when first opened (payloads can be large). */
function lazyDetails(label, build, key, openKeys) {
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

function jsonDetails(label, value, key, openKeys) {
  return lazyDetails(label, () => h('pre', {}, prettyJson(value)), key, openKeys);
}

// ---- banner --------------------------------------------------------------------------------

function errorText(err) {
  if (err instanceof ApiError) {
    let text = err.message || `request failed (${err.status})`;
    if (err.field) text += ` (field: ${err.field})`;
    return err.code ? `${text} [${err.code}]` : text;
  }
  return String(err?.message || err);
}

function showBanner(message, ok = false) {
  const b = $('#banner');
  b.classList.toggle('ok', ok);
  fill(b,
    h('span', { class: 'banner-text' }, message),
    h('button', { class: 'banner-close', type: 'button', 'aria-label': 'Dismiss', onclick: hideBanner }, '×'),
  );
  b.hidden = false;
}

function showError(err) {
  if (err?.name === 'AbortError') return;
  console.error(err);
  showBanner(errorText(err));
}

function hideBanner() {
  $('#banner').hidden = true;
}

// ---- API -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/**
 * Calls the API. `auth: false` sends no bearer token (the approval link's one-time token goes
 * in `headers` or the body instead).
 */
async function api(method, path, { body, headers = {}, signal, auth = true, signOutOn401 = true } = {}) {
  const h2 = { Accept: 'application/json', ...headers };
  if (auth && state.token) h2.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) h2['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers: h2,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the itops server (${e?.message || e})`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = data && typeof data === 'object' ? data.error : null;
    const err = new ApiError(
      res.status,
      e?.code || `http_${res.status}`,
      e?.message || text.slice(0, 300) || res.statusText,
      e?.field,
    );
    if (res.status === 401 && auth && state.token && signOutOn401) onUnauthorized(err);
    throw err;
  }
  return data;
}

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v != null) p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

function isAdmin() {
  return !state.me?.role || state.me.role === 'admin';
}

function canAct() {
  const role = state.me?.role;
  // Without a role (an older server) the controls show and the server decides.
  return !role || role === 'operator' || role === 'admin';
}

// ---- token ---------------------------------------------------------------------------------

// The token is kept for this tab's session only (sessionStorage): closing the tab signs out,
// and nothing is left on the machine for the next person or a script of another page.
function readStoredToken() {
  try {
    // A token an earlier version kept for good is moved to this session and deleted.
    const legacy = localStorage.getItem(TOKEN_KEY);
    if (legacy) {
      localStorage.removeItem(TOKEN_KEY);
      if (!sessionStorage.getItem(TOKEN_KEY)) sessionStorage.setItem(TOKEN_KEY, legacy);
    }
  } catch { /* storage disabled */ }
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return state.token; }
}

function storeToken(token) {
  state.token = token || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: keep it for this page only */ }
}

/**
 * Takes `#token=...` (the link the server prints) into storage and out of the address bar.
 * Someone already signed in is asked before a link replaces their identity: a link sent by
 * someone else would otherwise sign them in as its owner without their noticing.
 */
function bootstrapToken() {
  const fragment = location.hash.replace(/^#/, '');
  const current = readStoredToken();
  if (fragment.startsWith('token=')) {
    const token = new URLSearchParams(fragment).get('token');
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    const replace = token && token !== current && (!current || window.confirm(
      'This link signs you in with another token, replacing the one you are signed in with. Continue?'));
    if (replace) storeToken(token);
  }
  state.token = readStoredToken();
}

function onUnauthorized(err) {
  storeToken(null);
  setActiveNav('');
  state.me = null;
  renderUser();
  const app = $('#app');
  disposeView();
  loginView(app, `The server did not accept the token: ${err.message}`);
}

async function loadMe(signOutOn401 = true) {
  try {
    state.me = await api('GET', '/api/me', { signOutOn401 });
  } catch (err) {
    if (err.status === 401) throw err;
    // An unknown role: controls show and the server decides.
    state.me = { name: 'unknown', role: null };
  }
  renderUser();
}

function renderUser() {
  const el = $('#user');
  if (!state.token || !state.me) {
    el.replaceChildren();
    return;
  }
  fill(el,
    h('span', { class: 'name' }, state.me.name || 'signed in'),
    state.me.role ? h('span', { class: 'role', testid: 'role' }, state.me.role) : null,
    h('button', {
      type: 'button',
      onclick: () => {
        storeToken(null);
        state.me = null;
        renderUser();
        location.hash = '#/';
        route();
      },
    }, 'Sign out'),
  );
}

async function loadSimulatorNav() {
  try {
    state.simulator = await api('GET', '/api/simulator');
  } catch {
    state.simulator = null;
  }
  $('#nav-simulator').hidden = !state.simulator?.enabled;
  document.body.dataset.simulator = state.simulator?.enabled ? 'on' : 'off';
}

async function refreshApprovalCount() {
  const el = $('#approval-count');
  try {
    const pending = await api('GET', '/api/approvals?status=pending');
    const n = Array.isArray(pending) ? pending.length : 0;
    el.textContent = String(n);
    el.hidden = n === 0;
  } catch {
    el.hidden = true;
  }
}

// ---- router --------------------------------------------------------------------------------

let view = null;
let routeGeneration = 0;

function disposeView() {
  if (view?.dispose) view.dispose();
  view = null;
}

function parseRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { path: path || '/', params };
}

function setActiveNav(name) {
  for (const a of document.querySelectorAll('.nav a')) {
    a.classList.toggle('active', a.dataset.nav === name);
  }
}

async function route() {
  const generation = ++routeGeneration;
  disposeView();
  hideBanner();
  const app = $('#app');
  const { path, params } = parseRoute();
  let m;

  // The approval link works without a bearer token: it carries a one-time token.
  if ((m = path.match(/^\/approvals\/([^/]+)$/))) {
    setActiveNav('approvals');
    app.replaceChildren();
    view = approvalLinkView(app, decodeURIComponent(m[1]), params.get('token'));
    return;
  }
  if (!state.token) {
    setActiveNav('');
    loginView(app);
    return;
  }
  if (!state.me) {
    fill(app, h('p', { class: 'muted' }, 'Loading…'));
    try {
      await loadMe();
    } catch {
      return; // onUnauthorized showed the login form
    }
    loadSimulatorNav();
    refreshApprovalCount();
    if (generation !== routeGeneration) return;
  }
  app.replaceChildren();
  if (path === '/' || path === '/incidents') {
    setActiveNav('incidents');
    view = listView(app);
  } else if ((m = path.match(/^\/incidents\/([^/]+)$/))) {
    setActiveNav('incidents');
    view = incidentView(app, decodeURIComponent(m[1]));
  } else if (path === '/approvals') {
    setActiveNav('approvals');
    view = approvalsView(app);
  } else if (path === '/simulator') {
    setActiveNav('simulator');
    view = simulatorView(app);
  } else {
    setActiveNav('');
    add(app, h('div', { class: 'card narrow' }, h('h2', {}, 'Not found'),
      h('p', {}, 'There is no page here. ', h('a', { href: '#/' }, 'Back to the incidents'), '.')));
  }
}

// ---- login ---------------------------------------------------------------------------------

function loginView(app, message) {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, placeholder: 'paste the token', testid: 'token-input' });
  const form = h('form', { class: 'form' },
    h('label', {}, 'API token',
      h('span', { class: 'hint' }, 'itops serve prints a link with the admin token when it starts; or ask an admin for a token.'),
      input),
    h('div', { class: 'form-actions' }, h('button', { class: 'primary', type: 'submit' }, 'Sign in')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    storeToken(input.value.trim());
    state.me = null;
    if (location.hash === '#/' || location.hash === '') route();
    else location.hash = '#/';
  });
  fill(app, h('div', { class: 'card narrow' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Sign in to itops')),
    message ? h('div', { class: 'alert' }, message) : null,
    form));
  input.focus();
}

// ---- incident list -------------------------------------------------------------------------

function listView(app) {
  const ctl = new AbortController();
  let items = [];
  let nextCursor = null;
  let loading = false;

  // Create form.
  const createCard = h('div', { class: 'card', hidden: true, testid: 'create-card' });
  const newButton = canAct()
    ? h('button', { class: 'primary', type: 'button', testid: 'new-incident', onclick: () => {
      createCard.hidden = !createCard.hidden;
      if (!createCard.hidden) $('input[name="title"]', createCard)?.focus();
    } }, 'New incident')
    : null;
  if (canAct()) add(createCard, createForm(() => { createCard.hidden = true; }));

  // Pending approvals.
  const approvalsCard = h('div', { class: 'card attention', hidden: true, testid: 'pending-approvals' });

  // Filters.
  const statusSel = h('select', { name: 'status', testid: 'filter-status' },
    h('option', { value: '' }, 'any'), STATUSES.map((s) => h('option', { value: s }, words(s))));
  const sevSel = h('select', { name: 'severity', testid: 'filter-severity' },
    h('option', { value: '' }, 'any'), SEVERITIES.map((s) => h('option', { value: s }, s)));
  const serviceInput = h('input', { type: 'search', name: 'service', placeholder: 'service', size: 14, testid: 'filter-service' });
  statusSel.value = listFilters.status;
  sevSel.value = listFilters.severity;
  serviceInput.value = listFilters.service;
  let serviceTimer;
  const onFilter = () => {
    listFilters.status = statusSel.value;
    listFilters.severity = sevSel.value;
    listFilters.service = serviceInput.value.trim();
    load(true);
  };
  statusSel.addEventListener('change', onFilter);
  sevSel.addEventListener('change', onFilter);
  serviceInput.addEventListener('input', () => { clearTimeout(serviceTimer); serviceTimer = setTimeout(onFilter, 350); });

  const tbody = h('tbody');
  const table = h('table', { testid: 'incident-table' },
    h('thead', {}, h('tr', {},
      h('th', {}, 'Severity'), h('th', {}, 'Title'), h('th', {}, 'Status'), h('th', {}, 'Services'),
      h('th', {}, 'Source'), h('th', {}, 'Created'), h('th', {}, 'Updated'))),
    tbody);
  const empty = h('div', { class: 'empty', hidden: true }, 'No incidents match.');
  const moreButton = h('button', { type: 'button', testid: 'load-more', onclick: () => load(false) }, 'Load more');
  const more = h('div', { class: 'load-more', hidden: true }, moreButton);
  const updated = h('span', { class: 'muted small' });

  add(app,
    h('div', { class: 'page-head' }, h('h1', {}, 'Incidents'), updated, newButton),
    createCard,
    approvalsCard,
    h('div', { class: 'card' },
      h('div', { class: 'filters' },
        h('label', {}, 'Status', statusSel),
        h('label', {}, 'Severity', sevSel),
        h('label', {}, 'Service', serviceInput)),
      h('div', { class: 'table-wrap' }, table),
      empty,
      more),
  );

  function row(inc) {
    const tr = h('tr', { class: 'clickable', dataset: { id: inc.id } },
      h('td', {}, sevBadge(inc.severity)),
      h('td', { class: 'title-cell' }, h('a', { href: incidentHref(inc.id), class: 'incident-link' }, inc.title)),
      h('td', {}, statusBadge(inc.status)),
      h('td', {}, (inc.affected_services || []).map((s) => h('span', { class: 'chip' }, s))),
      h('td', { class: 'muted' }, inc.source || ''),
      h('td', { class: 'nowrap' }, timeEl(inc.created_at)),
      h('td', { class: 'nowrap muted' }, timeEl(inc.updated_at)));
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a')) return;
      location.hash = incidentHref(inc.id);
    });
    return tr;
  }

  function render() {
    fill(tbody, ...items.map(row));
    empty.hidden = items.length > 0;
    more.hidden = !nextCursor;
    updated.textContent = `refreshed ${fmtClock(new Date().toISOString())}`;
  }

  async function load(reset) {
    if (loading && !reset) return;
    loading = true;
    try {
      const cursor = reset ? null : nextCursor;
      const page = await api('GET', `/api/incidents${qs({ ...listFilters, limit: LIST_PAGE, cursor })}`, { signal: ctl.signal });
      items = reset ? page.items : items.concat(page.items.filter((i) => !items.some((x) => x.id === i.id)));
      nextCursor = page.next_cursor || null;
      render();
    } catch (err) {
      showError(err);
    } finally {
      loading = false;
    }
  }

  /** Refreshes the first page in place, keeping pages loaded with "load more". */
  async function refresh() {
    if (loading || document.hidden) return;
    try {
      const page = await api('GET', `/api/incidents${qs({ ...listFilters, limit: LIST_PAGE })}`, { signal: ctl.signal });
      if (items.length <= LIST_PAGE) {
        items = page.items;
        nextCursor = page.next_cursor || null;
      } else {
        const fresh = new Set(page.items.map((i) => i.id));
        const last = page.items[page.items.length - 1];
        const rest = items.filter((i) => !fresh.has(i.id) && (!last || i.created_at <= last.created_at));
        items = page.items.concat(rest);
      }
      render();
      refreshApprovals();
    } catch (err) {
      if (err?.name !== 'AbortError') console.warn('refresh failed', err);
    }
  }

  async function refreshApprovals() {
    try {
      const pending = await api('GET', '/api/approvals?status=pending', { signal: ctl.signal });
      renderPendingApprovals(approvalsCard, pending || []);
    } catch {
      approvalsCard.hidden = true;
    }
  }

  const onFocus = () => refresh();
  window.addEventListener('focus', onFocus);
  const timer = setInterval(refresh, 5000);
  load(true);
  refreshApprovals();

  return {
    dispose() {
      ctl.abort();
      clearInterval(timer);
      clearTimeout(serviceTimer);
      window.removeEventListener('focus', onFocus);
    },
  };
}

function renderPendingApprovals(card, pending) {
  const el = $('#approval-count');
  el.textContent = String(pending.length);
  el.hidden = pending.length === 0;
  card.hidden = pending.length === 0;
  if (!pending.length) return;
  fill(card,
    h('div', { class: 'card-head' }, h('h2', {}, `Waiting for approval (${pending.length})`)),
    h('ul', { class: 'plain' }, pending.map((a) => h('li', {},
      h('a', { href: incidentHref(a.incident_id) }, a.summary),
      h('span', { class: 'muted small' }, ' — requested ', timeEl(a.requested_at), ', expires ', timeEl(a.expires_at))))));
}

function servicesDatalist(id) {
  const list = h('datalist', { id });
  for (const s of state.simulator?.services || []) add(list, h('option', { value: s }));
  return list;
}

function parseServices(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

/** The create-incident form; `done` runs after a successful create. */
function createForm(done) {
  const title = h('input', { name: 'title', required: true, maxlength: 200, placeholder: 'Checkout latency above 2 s', testid: 'create-title' });
  const description = h('textarea', { name: 'description', rows: 3, placeholder: 'What is happening, since when, who noticed', testid: 'create-description' });
  const severity = h('select', { name: 'severity', testid: 'create-severity' }, SEVERITIES.map((s) => h('option', { value: s }, s)));
  severity.value = 'high';
  const services = h('input', { name: 'affected_services', placeholder: 'checkout, payment', list: 'itops-services', testid: 'create-services' });
  const submit = h('button', { class: 'primary', type: 'submit', testid: 'create-submit' }, 'Create incident');
  const fields = { title, description, severity, affected_services: services };
  const fieldErrors = {};
  const labelled = (text, input, hint) => {
    fieldErrors[input.name] = h('span', { class: 'field-error', hidden: true });
    return h('label', {}, text, hint ? h('span', { class: 'hint' }, hint) : null, input, fieldErrors[input.name]);
  };
  const form = h('form', { class: 'form', testid: 'create-form' },
    h('h2', {}, 'New incident'),
    labelled('Title', title),
    labelled('Description', description),
    h('div', { class: 'form-row' },
      labelled('Affected services', services, 'comma separated'),
      labelled('Severity', severity)),
    servicesDatalist('itops-services'),
    h('div', { class: 'form-actions' }, submit,
      h('button', { type: 'button', onclick: () => { form.reset(); severity.value = 'high'; done(); } }, 'Cancel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const [name, input] of Object.entries(fields)) {
      input.classList.remove('invalid');
      fieldErrors[name].hidden = true;
    }
    submit.disabled = true;
    try {
      const incident = await api('POST', '/api/incidents', {
        body: {
          title: title.value,
          description: description.value,
          severity: severity.value,
          affected_services: parseServices(services.value),
          detected_by: 'web-ui',
        },
      });
      form.reset();
      severity.value = 'high';
      done();
      location.hash = incidentHref(incident.id);
    } catch (err) {
      const field = err.field === 'source' ? null : err.field;
      if (field && fields[field]) {
        fields[field].classList.add('invalid');
        fieldErrors[field].textContent = err.message;
        fieldErrors[field].hidden = false;
      }
      showError(err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ---- incident page -------------------------------------------------------------------------

function incidentView(app, id) {
  const ctl = new AbortController();
  const signal = ctl.signal;
  const enc = encodeURIComponent(id);
  const openKeys = new Set();

  let incident = null;
  let checkpoint; // undefined: not loaded; null: workflow not started
  let approval = null;
  let approvalComment = '';
  let lastSeq = 0;
  const seen = new Set();
  let editing = false;
  let keyOnly = false;

  const head = h('div', { class: 'incident-head' }, h('p', { class: 'muted' }, 'Loading…'));
  const editCard = h('div', { class: 'card', hidden: true });
  const approvalCard = h('div', { class: 'card attention', hidden: true, testid: 'approval-card' });
  const workflowCard = h('div', { class: 'card', testid: 'workflow' });
  const metricsCard = h('div', { class: 'card', testid: 'metrics' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Telemetry (last 60 min)')), h('p', { class: 'muted' }, 'Loading…'));
  const live = h('span', { class: 'live', testid: 'live' }, 'connecting');
  const timeline = h('ol', { class: 'timeline', testid: 'timeline' });
  const timelineScroll = h('div', { class: 'timeline-scroll' }, timeline);
  const filter = h('select', { 'aria-label': 'Timeline filter', testid: 'timeline-filter' },
    h('option', { value: 'all' }, 'all entries'), h('option', { value: 'key' }, 'key events'));
  filter.addEventListener('change', () => {
    keyOnly = filter.value === 'key';
    for (const li of timeline.children) li.hidden = keyOnly && STEP_KINDS.has(li.dataset.kind);
  });
  const count = h('span', { class: 'muted small' });
  const timelineCard = h('div', { class: 'card timeline-card' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Timeline'), count, filter, live),
    timelineScroll,
    canAct() ? noteForm() : null);

  function noteForm() {
    const text = h('textarea', { rows: 2, maxlength: 4000, placeholder: 'Add a note to the timeline', testid: 'note-text' });
    const submit = h('button', { type: 'submit', testid: 'note-submit' }, 'Add note');
    const form = h('form', { class: 'note-form' }, text, h('div', { class: 'form-actions' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!text.value.trim()) return;
      submit.disabled = true;
      try {
        const entry = await api('POST', `/api/incidents/${enc}/notes`, { body: { text: text.value } });
        text.value = '';
        addEntries([entry], true);
      } catch (err) {
        showError(err);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  add(app, head, editCard,
    h('div', { class: 'columns' },
      h('div', {}, approvalCard, workflowCard, metricsCard),
      h('div', {}, timelineCard)));

  // -- header --

  function renderHead() {
    if (!incident) return;
    document.title = `${incident.title} — itops`;
    const toolbar = h('div', { class: 'toolbar' });
    if (canAct()) {
      if (checkpoint === null && !TERMINAL.has(incident.status)) {
        add(toolbar, h('button', { class: 'primary', type: 'button', testid: 'start-workflow', onclick: startWorkflow }, 'Start workflow'));
      }
      add(toolbar,
        h('button', { type: 'button', testid: 'edit-incident', onclick: toggleEdit }, editing ? 'Close editor' : 'Edit'),
        TERMINAL.has(incident.status) ? null : [
          h('button', { type: 'button', testid: 'resolve-incident', onclick: () => closeByHand('resolved') }, 'Mark resolved'),
          h('button', { type: 'button', testid: 'escalate-incident', onclick: () => closeByHand('escalated') }, 'Escalate'),
        ],
        isAdmin() ? h('button', { class: 'danger', type: 'button', testid: 'delete-incident', onclick: deleteIncident }, 'Delete') : null);
    }
    fill(head,
      h('div', { class: 'crumbs' }, h('a', { href: '#/' }, '← Incidents')),
      h('h1', { testid: 'incident-title' }, incident.title),
      h('div', { class: 'badges' },
        sevBadge(incident.severity),
        statusBadge(incident.status, { testid: 'incident-status' }),
        (incident.affected_services || []).map((s) => h('span', { class: 'chip' }, s))),
      h('div', { class: 'meta' },
        h('span', {}, 'created ', timeEl(incident.created_at)),
        h('span', {}, 'updated ', timeEl(incident.updated_at)),
        h('span', {}, 'source ', incident.source || '—'),
        h('span', { class: 'mono', title: 'incident id' }, incident.id)),
      incident.description
        ? h('p', { class: 'description', testid: 'incident-description' }, incident.description)
        : null,
      toolbar);
  }

  function setIncident(next) {
    if (!next || (incident && next.version != null && incident.version != null && next.version < incident.version)) return;
    const statusChanged = !incident || incident.status !== next.status;
    incident = next;
    renderHead();
    if (statusChanged && checkpoint !== undefined) scheduleCheckpoint();
  }

  async function loadIncident() {
    try {
      setIncident(await api('GET', `/api/incidents/${enc}`, { signal }));
    } catch (err) {
      if (err.status === 404) {
        fill(head, h('div', { class: 'crumbs' }, h('a', { href: '#/' }, '← Incidents')),
          h('h1', {}, 'Incident not found'));
      }
      throw err;
    }
  }

  // -- edit / delete --

  function toggleEdit() {
    editing = !editing;
    editCard.hidden = !editing;
    if (editing) renderEdit();
    renderHead();
  }

  function renderEdit() {
    const title = h('input', { name: 'title', value: incident.title, required: true, maxlength: 200 });
    const description = h('textarea', { name: 'description', rows: 4, value: incident.description || '' });
    const severity = h('select', { name: 'severity' }, SEVERITIES.map((s) => h('option', { value: s }, s)));
    severity.value = incident.severity;
    const services = h('input', { name: 'affected_services', value: (incident.affected_services || []).join(', '), list: 'itops-services-edit' });
    const save = h('button', { class: 'primary', type: 'submit' }, 'Save');
    const form = h('form', { class: 'form' },
      h('h2', {}, 'Edit incident'),
      h('label', {}, 'Title', title),
      h('label', {}, 'Description', description),
      h('div', { class: 'form-row' },
        h('label', {}, 'Affected services', h('span', { class: 'hint' }, 'comma separated'), services),
        h('label', {}, 'Severity', severity)),
      servicesDatalist('itops-services-edit'),
      h('div', { class: 'form-actions' }, save, h('button', { type: 'button', onclick: toggleEdit }, 'Cancel')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      save.disabled = true;
      try {
        const updated = await api('PATCH', `/api/incidents/${enc}`, {
          body: {
            title: title.value,
            description: description.value,
            severity: severity.value,
            affected_services: parseServices(services.value),
            version: incident.version,
          },
        });
        editing = false;
        editCard.hidden = true;
        setIncident(updated);
        showBanner('Incident updated.', true);
      } catch (err) {
        showError(err);
        if (err.status === 409) loadIncident().catch(() => {});
      } finally {
        save.disabled = false;
      }
    });
    fill(editCard, form);
  }

  async function closeByHand(status) {
    const what = status === 'resolved' ? 'Mark the incident resolved' : 'Escalate the incident to humans';
    if (!window.confirm(`${what}? A running workflow stops at its next step.`)) return;
    try {
      setIncident(await api('PATCH', `/api/incidents/${enc}`, { body: { status, version: incident.version } }));
    } catch (err) {
      showError(err);
      if (err.status === 409) loadIncident().catch(() => {});
    }
  }

  async function deleteIncident() {
    if (!window.confirm(`Delete the incident "${incident.title}" and its timeline?`)) return;
    try {
      await api('DELETE', `/api/incidents/${enc}`);
      location.hash = '#/';
    } catch (err) {
      showError(err);
    }
  }

  // -- workflow --

  async function startWorkflow(ev) {
    const button = ev?.currentTarget;
    if (button) button.disabled = true;
    try {
      checkpoint = await api('POST', `/api/incidents/${enc}/workflow`, { signal });
      renderWorkflow();
      renderHead();
    } catch (err) {
      showError(err);
      if (button) button.disabled = false;
    }
  }

  let checkpointTimer = null;
  let checkpointLoading = null;
  function scheduleCheckpoint() {
    clearTimeout(checkpointTimer);
    checkpointTimer = setTimeout(() => loadCheckpoint().catch(showError), 150);
  }

  async function loadCheckpoint() {
    if (checkpointLoading) { await checkpointLoading; }
    checkpointLoading = (async () => {
      try {
        checkpoint = await api('GET', `/api/incidents/${enc}/workflow`, { signal });
      } catch (err) {
        if (err.status === 404) checkpoint = null;
        else throw err;
      }
      await loadApproval();
      renderWorkflow();
      renderHead();
    })();
    try { await checkpointLoading; } finally { checkpointLoading = null; }
  }

  async function loadApproval() {
    const approvalId = checkpoint?.data?.approval_id;
    if (approvalId) {
      try {
        approval = await api('GET', `/api/approvals/${encodeURIComponent(approvalId)}`, { signal });
      } catch (err) {
        if (err.status !== 404) throw err;
        approval = null;
      }
    } else if (incident?.status === 'awaiting_approval') {
      const pending = await api('GET', `/api/approvals${qs({ status: 'pending', incident_id: id })}`, { signal });
      approval = pending?.[0] || null;
    } else {
      approval = null;
    }
    renderApproval();
  }

  let renderedApproval = null;
  function renderApproval() {
    // Re-rendering only on a change keeps the comment box (and its focus) while typing.
    const key = approval ? `${approval.id}:${approval.status}:${approval.version}:${canAct()}` : null;
    if (key === renderedApproval) return;
    renderedApproval = key;
    if (!approval) { approvalCard.hidden = true; return; }
    const pending = approval.status === 'pending';
    approvalCard.hidden = false;
    approvalCard.classList.toggle('attention', pending);
    fill(approvalCard, approvalBody(approval, {
      decide: pending && canAct() ? decide : null,
      comment: approvalComment,
      onComment: (v) => { approvalComment = v; },
      openKeys,
    }));
  }

  async function decide(decision, comment) {
    try {
      approval = await api('POST', `/api/approvals/${encodeURIComponent(approval.id)}/decision`, {
        body: { decision, comment: comment || undefined },
      });
      approvalComment = '';
      showBanner(`Plan ${approval.status === 'approved' ? 'approved' : words(approval.status)}.`, true);
    } catch (err) {
      showError(err);
      await loadApproval().catch(() => {});
      return;
    }
    renderApproval();
    scheduleCheckpoint();
    refreshApprovalCount();
  }

  function renderWorkflow() {
    if (checkpoint === undefined) return;
    workflowCard.replaceChildren();
    if (checkpoint === null) {
      add(workflowCard,
        h('div', { class: 'card-head' }, h('h2', {}, 'Workflow')),
        h('p', { class: 'muted' }, 'The workflow has not started: triage, root cause, remediation plan, approval, execution, verification.'),
        canAct() && incident && !TERMINAL.has(incident.status)
          ? h('button', { class: 'primary', type: 'button', onclick: startWorkflow }, 'Start workflow')
          : null);
      return;
    }
    const cp = checkpoint;
    const data = cp.data || {};
    add(workflowCard, h('div', { class: 'card-head' },
      h('h2', {}, 'Workflow'),
      statusBadge(cp.state, { testid: 'workflow-state' }),
      h('span', { class: 'muted small' }, `${cp.steps_completed ?? 0} step(s) · updated `, timeEl(cp.updated_at, true))));
    if (data.escalation_reason) {
      add(workflowCard, h('div', { class: 'alert', testid: 'escalation-reason' }, 'Escalated to humans: ', data.escalation_reason));
    }
    const sections = [];
    if (data.triage) sections.push(triageSection(data.triage));
    if (data.finding) sections.push(findingSection(data.finding, openKeys));
    if (data.plan) sections.push(planSection(data.plan, data, openKeys));
    if (data.verification) sections.push(verificationSection(data.verification, openKeys));
    if (!sections.length) {
      sections.push(h('p', { class: 'muted' }, TERMINAL.has(cp.state) ? 'The workflow ended.' : 'Working… results appear here as each step finishes.'));
    }
    add(workflowCard, ...sections);
  }

  // -- timeline --

  function entryEl(entry, fresh) {
    const kind = entry.kind || 'note';
    const hasPayload = entry.payload != null && !(typeof entry.payload === 'object' && Object.keys(entry.payload).length === 0);
    const li = h('li', {
      class: `tl-entry k-${kind}${fresh ? ' fresh' : ''}`,
      dataset: { kind, seq: String(entry.seq) },
      hidden: keyOnly && STEP_KINDS.has(kind),
    },
    h('span', { class: 'tl-kind', title: kind }, KIND_LABELS[kind] || words(kind)),
    h('div', { class: 'tl-body' },
      h('div', { class: 'tl-summary' }, entry.summary),
      h('div', { class: 'tl-meta' },
        h('span', { class: 'actor' }, actorText(entry.actor)),
        timeEl(entry.at, true),
        h('span', {}, `#${entry.seq}`)),
      hasPayload ? jsonDetails('details', entry.payload) : null));
    return li;
  }

  function addEntries(entries, fresh) {
    let refreshCheckpoint = false;
    let refreshMetrics = false;
    const nearBottom = timelineScroll.scrollHeight - timelineScroll.scrollTop - timelineScroll.clientHeight < 60;
    for (const entry of entries) {
      if (!entry || typeof entry.seq !== 'number' || seen.has(entry.seq)) continue;
      seen.add(entry.seq);
      const li = entryEl(entry, fresh);
      if (entry.seq > lastSeq) {
        add(timeline, li);
        lastSeq = entry.seq;
      } else {
        const after = [...timeline.children].find((c) => Number(c.dataset.seq) > entry.seq);
        timeline.insertBefore(li, after || null);
      }
      if (CHECKPOINT_KINDS.has(entry.kind)) refreshCheckpoint = true;
      if (entry.kind === 'action' || entry.kind === 'verification') refreshMetrics = true;
    }
    count.textContent = `${seen.size} entries`;
    if (nearBottom) timelineScroll.scrollTop = timelineScroll.scrollHeight;
    if (fresh && refreshCheckpoint) scheduleCheckpoint();
    if (fresh && refreshMetrics) scheduleMetrics();
  }

  /** Reads every entry after `lastSeq`, page by page. */
  async function catchUp(fresh) {
    for (;;) {
      const page = await api('GET', `/api/incidents/${enc}/timeline${qs({ after_seq: lastSeq, limit: TIMELINE_PAGE })}`, { signal });
      if (!Array.isArray(page) || !page.length) return;
      const before = lastSeq;
      addEntries(page, fresh);
      if (page.length < TIMELINE_PAGE || lastSeq === before) return;
    }
  }

  function setLive(mode, text) {
    live.className = `live ${mode}`;
    live.textContent = text;
  }

  /** Follows the incident's event stream, reconnecting from the last seen entry. */
  async function follow() {
    let backoff = 1000;
    while (!signal.aborted) {
      let opened = 0;
      try {
        const res = await fetch(`${API_BASE}/api/incidents/${enc}/events${qs({ after_seq: lastSeq })}`, {
          headers: { Authorization: `Bearer ${state.token}`, Accept: 'text/event-stream' },
          signal,
          cache: 'no-store',
        });
        if (res.status === 401) {
          onUnauthorized(new ApiError(401, 'unauthorized', 'token rejected'));
          return;
        }
        if ([404, 405, 501].includes(res.status)) {
          // The incident is gone (deleted), or this server has no event stream: poll.
          try {
            await loadIncident();
          } catch (err) {
            if (err.status === 404) { setLive('', 'deleted'); return; }
          }
          await poll();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
        opened = Date.now();
        setLive('on', 'live');
        await readEvents(res.body, onEvent);
      } catch (err) {
        if (signal.aborted) return;
        console.warn('event stream dropped', err);
      }
      if (signal.aborted) return;
      if (opened && Date.now() - opened > 10000) backoff = 1000;
      setLive('retry', 'reconnecting');
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, 10000);
      // Whatever happened while disconnected comes from the stream's after_seq, but a
      // refresh of the incident and checkpoint keeps the page consistent meanwhile.
      loadIncident().catch(() => {});
    }
  }

  /** Without an event stream: poll the timeline and the incident. */
  async function poll() {
    setLive('', 'polling');
    while (!signal.aborted) {
      try {
        await catchUp(true);
        await loadIncident();
      } catch (err) {
        if (signal.aborted) return;
        if (err.status === 404) { setLive('', 'deleted'); return; }
        console.warn('poll failed', err);
      }
      await sleep(2000, signal);
    }
  }

  function onEvent(name, data) {
    let value;
    try { value = JSON.parse(data); } catch { return; }
    if (name === 'timeline') addEntries([value], true);
    else if (name === 'incident') setIncident(value);
  }

  // -- metrics --

  let metricsTimer = null;
  function scheduleMetrics() {
    clearTimeout(metricsTimer);
    metricsTimer = setTimeout(loadMetrics, 500);
  }

  async function loadMetrics() {
    clearTimeout(metricsTimer);
    try {
      const m = await api('GET', `/api/incidents/${enc}/metrics?minutes=60`, { signal });
      fill(metricsCard, h('div', { class: 'card-head' }, h('h2', {}, 'Telemetry (last 60 min)'),
        h('span', { class: 'muted small' }, `${fmtClock(m.from)} – ${fmtClock(m.to)}`)), metricsBody(m));
    } catch (err) {
      if (signal.aborted) return;
      fill(metricsCard, h('div', { class: 'card-head' }, h('h2', {}, 'Telemetry')),
        h('p', { class: 'muted' }, err.status === 404 ? 'No telemetry for this incident.' : `Telemetry unavailable: ${errorText(err)}`));
    }
    if (!signal.aborted && !(incident && TERMINAL.has(incident.status) && checkpoint?.data?.verification)) {
      metricsTimer = setTimeout(loadMetrics, 15000);
    }
  }

  // -- start --

  (async () => {
    try {
      await loadIncident();
    } catch (err) {
      showError(err);
      setLive('', 'offline');
      return;
    }
    try {
      await catchUp(false);
      timelineScroll.scrollTop = timelineScroll.scrollHeight;
    } catch (err) {
      showError(err);
    }
    try {
      await loadCheckpoint();
    } catch (err) {
      showError(err);
    }
    loadMetrics();
    follow();
  })();
  // A slow safety net in case an event is missed.
  const safety = setInterval(() => {
    if (document.hidden) return;
    loadIncident().catch(() => {});
    if (checkpoint && !TERMINAL.has(checkpoint.state)) scheduleCheckpoint();
  }, 20000);

  return {
    dispose() {
      ctl.abort();
      clearInterval(safety);
      clearTimeout(checkpointTimer);
      clearTimeout(metricsTimer);
      document.title = 'itops';
    },
  };
}

/** Parses a Server-Sent Events body, calling `onEvent(name, data)` per event. */
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let name = '';
  let data = [];
  const dispatch = () => {
    if (data.length) onEvent(name || 'message', data.join('\n'));
    name = '';
    data = [];
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buffer);
      if (!m) break;
      // A lone '\r' at the end may be half of '\r\n': wait for more.
      if (m[0] === '\r' && m.index === buffer.length - 1) break;
      const line = buffer.slice(0, m.index);
      buffer = buffer.slice(m.index + m[0].length);
      if (line === '') { dispatch(); continue; }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let v = colon < 0 ? '' : line.slice(colon + 1);
      if (v.startsWith(' ')) v = v.slice(1);
      if (field === 'event') name = v;
      else if (field === 'data') data.push(v);
    }
  }
}

// ---- workflow sections ---------------------------------------------------------------------

function triageSection(t) {
  const urgency = Number(t.urgency) || 0;
  return h('div', { class: 'section', testid: 'triage' },
    h('h3', {}, 'Triage'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Severity'), h('dd', {}, sevBadge(t.severity)),
      h('dt', {}, 'Urgency'), h('dd', {}, h('span', { class: 'meter' }, meterFill(urgency / 10)), `${urgency}/10`),
      h('dt', {}, 'Route'), h('dd', {}, words(t.route))),
    t.reasoning ? h('p', { class: 'pre-line' }, t.reasoning) : null,
    t.next_steps?.length ? h('ul', { class: 'plain' }, t.next_steps.map((s) => h('li', {}, s))) : null);
}

function meterFill(fraction) {
  const span = h('span');
  span.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  return span;
}

function evidenceList(evidence) {
  if (!evidence?.length) return h('p', { class: 'muted small' }, 'No evidence recorded.');
  return h('ul', { class: 'evidence' }, evidence.map((e) => {
    const type = e.type || 'evidence';
    const extra = [];
    if (type === 'metric') extra.push(h('span', { class: 'chip' }, e.metric), ' ', h('span', { class: 'muted small' }, `${fmtClock(e.start)}–${fmtClock(e.end)}`));
    if (type === 'logs') extra.push(h('span', { class: 'muted small' }, `${e.count ?? 0} line(s)`));
    if (type === 'trace') extra.push(h('span', { class: 'chip' }, `trace ${String(e.trace_id || '').slice(0, 16)}`));
    if (type === 'change') extra.push(h('span', { class: 'chip' }, e.kind), ' ', h('span', { class: 'muted small' }, fmtTime(e.at)));
    if (type === 'knowledge') extra.push(h('span', { class: 'chip' }, e.document_id));
    return h('li', { class: `ev-${type}` },
      h('div', {}, h('span', { class: 'ev-type' }, type), e.service ? h('strong', {}, e.service, ' ') : null, extra),
      h('div', { class: 'pre-line' }, e.summary),
      type === 'logs' && e.samples?.length
        ? lazyDetails(`${e.samples.length} sample line(s)`, () => h('pre', {}, e.samples.join('\n')))
        : null);
  }));
}

function findingSection(f, openKeys) {
  const candidates = f.candidates || [];
  const rows = candidates.map((c, i) => h('tr', {},
    h('td', { class: 'muted' }, String(i + 1)),
    h('td', {}, h('strong', {}, c.service)),
    h('td', {}, words(c.fault)),
    h('td', { class: 'nowrap' }, h('span', { class: 'meter' }, meterFill(c.confidence)), `${Math.round((c.confidence || 0) * 100)}%`),
    h('td', {}, String(c.evidence?.length || 0))));
  const top = candidates[0];
  return h('div', { class: 'section', testid: 'finding' },
    h('h3', {}, 'Root cause'),
    h('p', { class: 'pre-line' }, f.summary),
    f.root_service ? h('p', {}, 'Root service: ', h('strong', {}, f.root_service)) : null,
    candidates.length
      ? h('div', { class: 'table-wrap' }, h('table', { testid: 'candidates' },
        h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Service'), h('th', {}, 'Fault'), h('th', {}, 'Confidence'), h('th', {}, 'Evidence'))),
        h('tbody', {}, rows)))
      : h('p', { class: 'muted' }, 'No candidate found.'),
    top ? h('div', { class: 'section' }, h('h4', {}, `Evidence for ${top.service}`), evidenceList(top.evidence)) : null,
    candidates.slice(1).filter((c) => c.evidence?.length).map((c, i) =>
      lazyDetails(`Evidence for #${i + 2} ${c.service} (${words(c.fault)})`, () => evidenceList(c.evidence), `cand-${i + 1}`, openKeys)),
    f.evidence?.length ? h('div', { class: 'section' }, h('h4', {}, 'Evidence'), evidenceList(f.evidence)) : null,
    f.contributing_factors?.length
      ? h('div', { class: 'section' }, h('h4', {}, 'Contributing factors'),
        h('ul', { class: 'plain' }, f.contributing_factors.map((c) => h('li', {}, c))))
      : null);
}

/** The table of a plan's actions; `records` (execution records) add a state column. */
function actionsTable(actions, records) {
  const withState = Array.isArray(records);
  return h('div', { class: 'table-wrap' }, h('table', { testid: 'plan-actions' },
    h('thead', {}, h('tr', {},
      h('th', {}, 'Action'), h('th', {}, 'Target'), h('th', {}, 'Parameters'), h('th', {}, 'Risk'),
      h('th', {}, 'Expected effect'), withState ? h('th', {}, 'Execution') : null)),
    h('tbody', {}, (actions || []).map((a) => {
      const params = a.parameters ?? a.params ?? {};
      const paramText = Object.keys(params).length ? JSON.stringify(params) : '—';
      const record = withState ? records.find((r) => r.action_id === a.id) : null;
      return h('tr', { dataset: { actionId: a.id || '' } },
        h('td', {}, h('strong', { class: 'mono' }, a.catalogue_id ?? a.action ?? '?'),
          a.phase ? h('div', { class: 'muted small' }, words(a.phase)) : null,
          a.rationale ? h('div', { class: 'muted small' }, a.rationale) : null),
        h('td', {}, a.target),
        h('td', { class: 'mono params' }, paramText),
        h('td', {}, a.risk ? riskBadge(a.risk) : '—',
          h('div', { class: 'muted small' }, a.reversible ? 'reversible' : 'irreversible')),
        h('td', { class: 'effect' }, a.expected_effect || ''),
        withState
          ? h('td', {}, record
            ? [badge('ex', record.state, { testid: 'action-state' }), record.detail ? h('div', { class: 'small muted pre-line' }, record.detail) : null]
            : badge('ex', 'pending'))
          : null);
    }))));
}

function planSection(plan, data, openKeys) {
  const needs = data.needs_approval;
  return h('div', { class: 'section', testid: 'plan' },
    h('h3', {}, 'Remediation plan'),
    plan.rationale ? h('p', { class: 'pre-line' }, plan.rationale) : null,
    needs == null || !plan.actions?.length ? null
      : h('p', { class: 'small muted' }, needs ? 'Needs human approval before anything runs.' : 'Runs without approval under the action policy.'),
    plan.actions?.length ? actionsTable(plan.actions, data.actions || []) : h('p', { class: 'muted' }, 'No actions proposed.'),
    jsonDetails('plan as JSON', plan, 'plan-json', openKeys));
}

function verificationSection(v, openKeys) {
  const hasDetails = v.details != null && !(typeof v.details === 'object' && Object.keys(v.details).length === 0);
  return h('div', { class: 'section', testid: 'verification' },
    h('h3', {}, 'Verification'),
    h('p', {}, v.mitigated
      ? h('span', { class: 'badge ok-mitigated', testid: 'verification-verdict' }, 'mitigated')
      : h('span', { class: `badge ok-${Boolean(v.resolved)}`, testid: 'verification-verdict' }, v.resolved ? 'resolved' : 'not resolved'), ' ',
      h('span', { class: 'pre-line' }, v.summary)),
    v.mitigated && v.follow_up
      ? h('p', { testid: 'verification-follow-up' }, h('strong', {}, 'Follow-up: '), h('span', { class: 'pre-line' }, v.follow_up))
      : null,
    hasDetails ? jsonDetails('details', v.details, 'verification-details', openKeys) : null);
}

/**
 * An approval: what it asks, its state, and (when `decide` is given) the comment box and the
 * Approve / Reject buttons.
 */
function approvalBody(a, { decide, comment = '', onComment, openKeys, showIncidentLink = false } = {}) {
  const payload = a.payload && typeof a.payload === 'object' ? a.payload : {};
  const frag = document.createDocumentFragment();
  add(frag,
    h('div', { class: 'card-head' },
      h('h2', {}, a.status === 'pending' ? 'Approval needed' : 'Approval'),
      badge('ap', a.status, { testid: 'approval-status' })),
    h('p', { class: 'pre-line', testid: 'approval-summary' }, a.summary),
    h('dl', { class: 'kv' },
      showIncidentLink ? [h('dt', {}, 'Incident'), h('dd', {}, h('a', { href: incidentHref(a.incident_id) }, a.incident_id))] : null,
      h('dt', {}, 'Requested'), h('dd', {}, timeEl(a.requested_at), ' by ', actorText(a.requested_by)),
      a.status === 'pending' || a.status === 'expired'
        ? [h('dt', {}, a.status === 'pending' ? 'Expires' : 'Expired'), h('dd', {}, timeEl(a.expires_at))]
        : null,
      a.decided_by ? [h('dt', {}, 'Decided'), h('dd', {}, a.decided_by, ' at ', timeEl(a.decided_at))] : null,
      a.comment ? [h('dt', {}, 'Comment'), h('dd', { class: 'pre-line' }, a.comment)] : null,
      payload.max_risk ? [h('dt', {}, 'Highest risk'), h('dd', {}, riskBadge(payload.max_risk))] : null,
      payload.finding ? [h('dt', {}, 'Finding'), h('dd', { class: 'pre-line' }, payload.finding)] : null,
      payload.rationale ? [h('dt', {}, 'Rationale'), h('dd', { class: 'pre-line' }, payload.rationale)] : null),
  );
  if (Array.isArray(payload.actions) && payload.actions.length) add(frag, actionsTable(payload.actions));
  else if (a.payload != null && !Array.isArray(payload.actions)) add(frag, jsonDetails('request details', a.payload, 'approval-payload', openKeys));

  if (decide) {
    const text = h('textarea', { rows: 2, placeholder: 'Comment (optional)', value: comment, testid: 'approval-comment' });
    text.addEventListener('input', () => onComment?.(text.value));
    const approve = h('button', { class: 'approve', type: 'button', testid: 'approve' }, 'Approve');
    const reject = h('button', { class: 'danger', type: 'button', testid: 'reject' }, 'Reject');
    const run = (decision) => async () => {
      approve.disabled = true;
      reject.disabled = true;
      try {
        await decide(decision, text.value.trim());
      } finally {
        approve.disabled = false;
        reject.disabled = false;
      }
    };
    approve.addEventListener('click', run('approve'));
    reject.addEventListener('click', run('reject'));
    add(frag, h('div', { class: 'decision' }, text, h('div', { class: 'buttons' }, approve, reject)));
  }
  return frag;
}

// ---- metrics charts ------------------------------------------------------------------------

function metricsBody(m) {
  const services = m?.services || [];
  if (!services.length) return h('p', { class: 'muted' }, 'No metrics for the affected services.');
  const from = Date.parse(m.from);
  const to = Date.parse(m.to);
  const markers = (m.markers || []).map((k) => ({ at: Date.parse(k.at), label: String(k.label || '') })).filter((k) => Number.isFinite(k.at));
  const legend = markers.length
    ? h('div', { class: 'legend' }, markers.map((k) =>
      h('span', {}, h('span', { class: `sw${k.label.startsWith('action') ? ' action' : ''}` }), `${k.label} ${fmtClock(new Date(k.at).toISOString())}`)))
    : null;
  return h('div', { class: 'charts' }, legend, services.map((s) => h('div', { class: 'chart-service' },
    h('h3', {}, s.service),
    h('div', { class: 'chart-grid' }, (s.series || []).map((series) => lineChart(series, from, to, markers))))));
}

/** A small line chart of one series, with the markers as dashed vertical lines. */
function lineChart(series, from, to, markers) {
  const W = 260;
  const H = 86;
  const left = 36;
  const right = 6;
  const top = 6;
  const bottom = 14;
  const points = (series.points || [])
    .filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]))
    .sort((a, b) => a[0] - b[0]);
  let x0 = Number.isFinite(from) ? from : (points[0]?.[0] ?? 0);
  let x1 = Number.isFinite(to) ? to : (points[points.length - 1]?.[0] ?? 1);
  if (x1 <= x0) x1 = x0 + 1;
  let y0 = Math.min(...points.map((p) => p[1]));
  let y1 = Math.max(...points.map((p) => p[1]));
  if (!points.length) { y0 = 0; y1 = 1; }
  if (y1 - y0 < 1e-9) { const pad = Math.abs(y1) * 0.1 || 1; y0 -= pad; y1 += pad; }
  if (y0 > 0 && y0 < (y1 - y0) * 0.5) y0 = 0;
  const px = (x) => left + ((x - x0) / (x1 - x0)) * (W - left - right);
  const py = (y) => top + (1 - (y - y0) / (y1 - y0)) * (H - top - bottom);
  const line = points.map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join('');
  const area = points.length
    ? `${line}L${px(points[points.length - 1][0]).toFixed(1)},${H - bottom}L${px(points[0][0]).toFixed(1)},${H - bottom}Z`
    : '';
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${series.name} chart` },
    svg('line', { class: 'grid', x1: left, x2: W - right, y1: top, y2: top }),
    svg('line', { class: 'grid', x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }),
    svg('text', { class: 'axis', x: left - 3, y: top + 7, 'text-anchor': 'end' }, fmtNumber(y1)),
    svg('text', { class: 'axis', x: left - 3, y: H - bottom, 'text-anchor': 'end' }, fmtNumber(y0)),
    svg('text', { class: 'axis', x: left, y: H - 2 }, fmtClock(new Date(x0).toISOString())),
    svg('text', { class: 'axis', x: W - right, y: H - 2, 'text-anchor': 'end' }, fmtClock(new Date(x1).toISOString())),
    area ? svg('path', { class: 'area', d: area }) : null,
    line ? svg('path', { class: 'line', d: line }) : null,
    markers.filter((k) => k.at >= x0 && k.at <= x1).map((k) =>
      svg('line', { class: `marker${k.label.startsWith('action') ? ' action' : ''}`, x1: px(k.at), x2: px(k.at), y1: top, y2: H - bottom },
        svg('title', {}, `${k.label} at ${fmtTime(new Date(k.at).toISOString())}`))));
  const latest = points.length ? points[points.length - 1][1] : null;
  return h('figure', { class: 'chart' },
    h('figcaption', {}, h('span', {}, series.name), h('span', { class: 'latest' }, `${fmtNumber(latest)} ${series.unit || ''}`.trim())),
    points.length ? chart : h('p', { class: 'muted small' }, 'no samples'));
}

// ---- approvals list ------------------------------------------------------------------------

function approvalsView(app) {
  const ctl = new AbortController();
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  add(app, h('div', { class: 'page-head' }, h('h1', {}, 'Approvals waiting')), list);
  async function load() {
    try {
      const pending = await api('GET', '/api/approvals?status=pending', { signal: ctl.signal }) || [];
      const el = $('#approval-count');
      el.textContent = String(pending.length);
      el.hidden = pending.length === 0;
      if (!pending.length) {
        fill(list, h('div', { class: 'card empty' }, 'Nothing is waiting for a decision.'));
        return;
      }
      fill(list, ...pending.map((a) => h('div', { class: 'card attention' },
        approvalBody(a, { showIncidentLink: true }),
        h('p', {}, h('a', { href: incidentHref(a.incident_id) }, 'Open the incident to decide →')))));
    } catch (err) {
      showError(err);
    }
  }
  load();
  const timer = setInterval(load, 5000);
  return { dispose() { ctl.abort(); clearInterval(timer); } };
}

// ---- approval link (one-time token) --------------------------------------------------------

function approvalLinkView(app, id, oneTimeToken) {
  const ctl = new AbortController();
  const enc = encodeURIComponent(id);
  const card = h('div', { class: 'card', testid: 'approval-card' }, h('p', { class: 'muted' }, 'Loading…'));
  const note = h('div');
  add(app, h('div', { class: 'approval-page' }, note, card));
  let useBearer = false;
  let comment = '';
  const decider = h('input', { name: 'decided_by', maxlength: 100, placeholder: 'your name', autocomplete: 'name', testid: 'decided-by' });

  async function chooseAuth() {
    if (!state.token) return false;
    if (!state.me) {
      try { await loadMe(false); } catch { return Boolean(!oneTimeToken); }
    }
    // An operator decides under their own name; anyone else uses the link's token.
    return canAct() || !oneTimeToken;
  }

  async function load() {
    const opts = useBearer
      ? { signal: ctl.signal }
      : { signal: ctl.signal, auth: false, headers: { 'X-Approval-Token': oneTimeToken || '' } };
    const a = await api('GET', `/api/approvals/${enc}`, opts);
    render(a);
  }

  function render(a) {
    card.classList.toggle('attention', a.status === 'pending');
    fill(card, approvalBody(a, {
      decide: a.status === 'pending' && (useBearer ? canAct() : Boolean(oneTimeToken)) ? decide : null,
      comment,
      onComment: (v) => { comment = v; },
      showIncidentLink: useBearer,
    }));
  }

  async function decide(decision, text) {
    const body = { decision, comment: text || undefined };
    if (!useBearer) {
      body.token = oneTimeToken;
      if (decider.value.trim()) body.decided_by = decider.value.trim();
    }
    try {
      const a = await api('POST', `/api/approvals/${enc}/decision`, useBearer ? { body } : { body, auth: false });
      comment = '';
      showBanner(`Decision recorded: ${words(a.status)}.`, true);
      render(a);
    } catch (err) {
      showError(err);
      load().catch(() => {});
    }
  }

  (async () => {
    useBearer = await chooseAuth();
    if (!useBearer && !oneTimeToken) {
      fill(card, h('h2', {}, 'Approval'), h('p', {}, 'This link has no approval token. ',
        h('a', { href: '#/' }, 'Sign in'), ' to decide from the incident page.'));
      return;
    }
    if (!useBearer) {
      fill(note, h('div', { class: 'alert info' }, 'Deciding with the one-time link from the notification. ',
        'Your name goes on the timeline: ', decider));
    }
    try {
      await load();
    } catch (err) {
      fill(card, h('h2', {}, 'Approval'), h('p', { class: 'muted' }, errorText(err)));
      showError(err);
    }
  })();
  return { dispose() { ctl.abort(); } };
}

// ---- simulator -----------------------------------------------------------------------------

function simulatorView(app) {
  const ctl = new AbortController();
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  add(app, h('div', { class: 'page-head' }, h('h1', {}, 'Simulator')), body);
  let formBuilt = false;
  const formCard = h('div', { class: 'card', testid: 'simulator-form' });
  const faultsCard = h('div', { class: 'card', testid: 'simulator-faults' });
  const result = h('div', { testid: 'simulator-result' });

  function buildForm(sim) {
    const kinds = sim.fault_kinds || [];
    const kind = h('select', { name: 'kind', testid: 'sim-kind' }, kinds.map((k) => h('option', { value: k.kind }, words(k.kind))));
    const describe = h('p', { class: 'muted small' });
    const service = h('select', { name: 'service', testid: 'sim-service' });
    // Each kind lists the services it can break (a disk fills on a database, not a web page).
    const onKind = () => {
      const info = kinds.find((k) => k.kind === kind.value);
      describe.textContent = info?.description || '';
      const eligible = Array.isArray(info?.services) ? info.services : (sim.services || []);
      const previous = service.value;
      fill(service, eligible.map((s) => h('option', { value: s }, s)));
      if (eligible.includes(previous)) service.value = previous;
    };
    kind.addEventListener('change', onKind);
    onKind();
    const severityOut = h('output', {}, '0.8');
    const severity = h('input', { type: 'range', name: 'severity', min: '0.1', max: '1', step: '0.1', value: '0.8', testid: 'sim-severity' });
    severity.addEventListener('input', () => { severityOut.textContent = severity.value; });
    const submit = h('button', { class: 'primary', type: 'submit', testid: 'sim-inject' }, 'Inject fault');
    const form = h('form', { class: 'form' },
      h('div', { class: 'card-head' }, h('h2', {}, 'Inject a fault')),
      h('p', { class: 'muted small' }, 'The simulated web shop degrades; its monitoring raises an incident when the alerts fire.'),
      h('div', { class: 'form-row' }, h('label', {}, 'Fault', kind, describe), h('label', {}, 'Service', service)),
      h('label', {}, h('span', {}, 'Severity ', severityOut), severity),
      h('div', { class: 'form-actions' }, submit),
      result);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      try {
        const r = await api('POST', '/api/simulator/faults', {
          body: { kind: kind.value, service: service.value, severity: Number(severity.value) },
        });
        fill(result, h('div', { class: 'alert success' },
          r.message || `Fault ${r.fault_id} injected.`,
          r.incident ? [' ', h('a', { href: incidentHref(r.incident.id), testid: 'sim-incident-link' }, `Open incident: ${r.incident.title}`)] : null));
        load();
      } catch (err) {
        showError(err);
      } finally {
        submit.disabled = false;
      }
    });
    if (!canAct()) {
      for (const el of form.querySelectorAll('input, select, button')) el.disabled = true;
      add(form, h('p', { class: 'muted small' }, 'Injecting faults needs the operator role.'));
    }
    fill(formCard, form);
  }

  function renderFaults(sim) {
    const faults = sim.faults || [];
    fill(faultsCard,
      h('div', { class: 'card-head' }, h('h2', {}, 'Faults'), h('span', { class: 'muted small' }, 'simulated time ', timeEl(sim.now))),
      faults.length
        ? h('div', { class: 'table-wrap' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Fault'), h('th', {}, 'Service'), h('th', {}, 'Severity'),
            h('th', {}, 'Started'), h('th', {}, 'State'), h('th', {}, 'Cured by'))),
          h('tbody', {}, faults.slice().reverse().map((f) => {
            const started = f.started_at ?? f.started;
            const ended = f.ended_at ?? f.cured;
            return h('tr', {},
              h('td', { class: 'muted' }, String(f.id)),
              h('td', {}, h('strong', {}, words(f.kind)), f.variant ? h('span', { class: 'muted small' }, ` (${words(f.variant)})`) : null,
                f.description ? h('div', { class: 'muted small' }, f.description) : null),
              h('td', {}, h('span', { class: 'chip' }, f.service)),
              h('td', {}, f.severity != null ? fmtNumber(f.severity) : '—'),
              h('td', { class: 'nowrap' }, started ? timeEl(started) : h('span', { class: 'muted' }, 'scheduled')),
              h('td', { class: 'nowrap' }, ended
                ? [h('span', { class: 'badge st-resolved' }, 'ended'), ' ', timeEl(ended, true)]
                : h('span', { class: 'badge st-escalated' }, 'active')),
              h('td', {}, f.cured_by
                ? h('span', { class: 'chip' }, f.cured_by)
                : (f.curing_actions?.length ? h('span', { class: 'muted small' }, `cured by: ${f.curing_actions.join(', ')}`) : '—')));
          }))))
        : h('p', { class: 'muted' }, 'No faults injected. The shop runs normally.'),
      h('p', { class: 'muted small' }, 'Services: ', (sim.services || []).map((s) => h('span', { class: 'chip' }, s))));
  }

  async function load() {
    try {
      const sim = await api('GET', '/api/simulator', { signal: ctl.signal });
      state.simulator = sim;
      $('#nav-simulator').hidden = !sim.enabled;
      if (!sim.enabled) {
        fill(body, h('div', { class: 'card empty' }, 'The simulator is not enabled on this server.'));
        return;
      }
      if (!formBuilt) {
        formBuilt = true;
        buildForm(sim);
        fill(body, formCard, faultsCard);
      }
      renderFaults(sim);
    } catch (err) {
      if (err.status === 404) fill(body, h('div', { class: 'card empty' }, 'This server has no simulator.'));
      else showError(err);
    }
  }
  load();
  const timer = setInterval(load, 5000);
  return { dispose() { ctl.abort(); clearInterval(timer); } };
}

// ---- start ---------------------------------------------------------------------------------

bootstrapToken();
window.addEventListener('hashchange', () => {
  // A pasted `#token=` link while the app is open.
  if (location.hash.startsWith('#token=')) {
    bootstrapToken();
    state.me = null;
  }
  route();
});
route();
