// An approval as a card: what it asks, its state, and the decision controls.

import { add, h, incidentHref, jsonDetails } from './dom.js';
import { actorText, badge, riskBadge, timeEl } from './format.js';
import { actionsTable } from './workflow-sections.js';

/**
 * An approval: what it asks, its state, and (when `decide` is given) the comment box and the
 * Approve / Reject buttons.
 */
export function approvalBody(a, { decide, comment = '', onComment, openKeys, showIncidentLink = false } = {}) {
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
