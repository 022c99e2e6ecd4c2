// The incident list: filters, pages ("load more"), a refresh every 5 s and on focus, the
// approvals waiting, and the create form.

import { api, qs } from './api.js';
import { showError } from './banner.js';
import { $, add, fill, h, incidentHref } from './dom.js';
import { fmtClock, SEVERITIES, sevBadge, STATUSES, statusBadge, timeEl, words } from './format.js';
import { createForm } from './incident-form.js';
import { canAct } from './session.js';
import { setApprovalCount } from './shell.js';

const LIST_PAGE = 25;

/** Filters of the incident list, kept while the user moves between pages. */
const listFilters = { status: '', severity: '', service: '' };

export function listView(app) {
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
  setApprovalCount(pending.length);
  card.hidden = pending.length === 0;
  if (!pending.length) return;
  fill(card,
    h('div', { class: 'card-head' }, h('h2', {}, `Waiting for approval (${pending.length})`)),
    h('ul', { class: 'plain' }, pending.map((a) => h('li', {},
      h('a', { href: incidentHref(a.incident_id) }, a.summary),
      h('span', { class: 'muted small' }, ' — requested ', timeEl(a.requested_at), ', expires ', timeEl(a.expires_at))))));
}
