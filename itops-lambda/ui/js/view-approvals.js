// The approvals waiting for a decision, refreshed every 5 s; deciding happens on the incident
// page.

import { api } from './api.js';
import { showError } from './banner.js';
import { add, fill, h, incidentHref } from './dom.js';
import { approvalBody } from './approval-card.js';
import { setApprovalCount } from './shell.js';

export function approvalsView(app) {
  const ctl = new AbortController();
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  add(app, h('div', { class: 'page-head' }, h('h1', {}, 'Approvals waiting')), list);
  async function load() {
    try {
      const pending = await api('GET', '/api/approvals?status=pending', { signal: ctl.signal }) || [];
      setApprovalCount(pending.length);
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
