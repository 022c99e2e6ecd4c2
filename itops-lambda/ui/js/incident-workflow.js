// The incident page's workflow and approval: starting the workflow, reading its checkpoint
// and the approval it waits for, and deciding. Each function takes the page's state `s`.

import { api, qs } from './api.js';
import { showBanner, showError } from './banner.js';
import { words } from './format.js';
import { renderApproval, renderHead, renderWorkflow } from './incident-render.js';
import { refreshApprovalCount } from './shell.js';

export async function startWorkflow(s, ev) {
  const button = ev?.currentTarget;
  if (button) button.disabled = true;
  try {
    s.checkpoint = await api('POST', `/api/incidents/${s.enc}/workflow`, { signal: s.signal });
    renderWorkflow(s);
    renderHead(s);
  } catch (err) {
    showError(err);
    if (button) button.disabled = false;
  }
}

/** Reads the checkpoint soon (several changes in a row make one request). */
export function scheduleCheckpoint(s) {
  clearTimeout(s.checkpointTimer);
  s.checkpointTimer = setTimeout(() => loadCheckpoint(s).catch(showError), 150);
}

export async function loadCheckpoint(s) {
  if (s.checkpointLoading) { await s.checkpointLoading; }
  s.checkpointLoading = (async () => {
    try {
      s.checkpoint = await api('GET', `/api/incidents/${s.enc}/workflow`, { signal: s.signal });
    } catch (err) {
      if (err.status === 404) s.checkpoint = null;
      else throw err;
    }
    await loadApproval(s);
    renderWorkflow(s);
    renderHead(s);
  })();
  try { await s.checkpointLoading; } finally { s.checkpointLoading = null; }
}

async function loadApproval(s) {
  const approvalId = s.checkpoint?.data?.approval_id;
  if (approvalId) {
    try {
      s.approval = await api('GET', `/api/approvals/${encodeURIComponent(approvalId)}`, { signal: s.signal });
    } catch (err) {
      if (err.status !== 404) throw err;
      s.approval = null;
    }
  } else if (s.incident?.status === 'awaiting_approval') {
    const pending = await api('GET', `/api/approvals${qs({ status: 'pending', incident_id: s.id })}`, { signal: s.signal });
    s.approval = pending?.[0] || null;
  } else {
    s.approval = null;
  }
  renderApproval(s);
}

export async function decide(s, decision, comment) {
  try {
    s.approval = await api('POST', `/api/approvals/${encodeURIComponent(s.approval.id)}/decision`, {
      body: { decision, comment: comment || undefined },
    });
    s.approvalComment = '';
    showBanner(`Plan ${s.approval.status === 'approved' ? 'approved' : words(s.approval.status)}.`, true);
  } catch (err) {
    showError(err);
    await loadApproval(s).catch(() => {});
    return;
  }
  renderApproval(s);
  scheduleCheckpoint(s);
  refreshApprovalCount();
}
