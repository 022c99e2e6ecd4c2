// The incident page's render functions: each draws one part of the page from the page's
// state `s` (see view-incident.js), and wires its controls to the page's actions `s.act`.

import { showError } from './banner.js';
import { add, fill, h, jsonDetails } from './dom.js';
import { approvalBody } from './approval-card.js';
import { metricsBody } from './charts.js';
import {
  actorText, fmtClock, KIND_LABELS, SEVERITIES, sevBadge, statusBadge, STEP_KINDS, TERMINAL,
  timeEl, words,
} from './format.js';
import { servicesDatalist } from './incident-form.js';
import { canAct, isAdmin } from './session.js';
import { findingSection, planSection, triageSection, verificationSection } from './workflow-sections.js';

/** Builds the page's parts into `app`; returns them, for the render functions. */
export function layout(app, s) {
  const els = {
    head: h('div', { class: 'incident-head' }, h('p', { class: 'muted' }, 'Loading…')),
    editCard: h('div', { class: 'card', hidden: true }),
    approvalCard: h('div', { class: 'card attention', hidden: true, testid: 'approval-card' }),
    workflowCard: h('div', { class: 'card', testid: 'workflow' }),
    metricsCard: h('div', { class: 'card', testid: 'metrics' },
      h('div', { class: 'card-head' }, h('h2', {}, 'Telemetry (last 60 min)')), h('p', { class: 'muted' }, 'Loading…')),
    live: h('span', { class: 'live', testid: 'live' }, 'connecting'),
    timeline: h('ol', { class: 'timeline', testid: 'timeline' }),
    count: h('span', { class: 'muted small' }),
  };
  els.timelineScroll = h('div', { class: 'timeline-scroll' }, els.timeline);
  const filter = h('select', { 'aria-label': 'Timeline filter', testid: 'timeline-filter' },
    h('option', { value: 'all' }, 'all entries'), h('option', { value: 'key' }, 'key events'));
  filter.addEventListener('change', () => {
    s.keyOnly = filter.value === 'key';
    for (const li of els.timeline.children) li.hidden = s.keyOnly && STEP_KINDS.has(li.dataset.kind);
  });
  const timelineCard = h('div', { class: 'card timeline-card' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Timeline'), els.count, filter, els.live),
    els.timelineScroll,
    canAct() ? noteForm(s) : null);
  add(app, els.head, els.editCard,
    h('div', { class: 'columns' },
      h('div', {}, els.approvalCard, els.workflowCard, els.metricsCard),
      h('div', {}, timelineCard)));
  return els;
}

function noteForm(s) {
  const text = h('textarea', { rows: 2, maxlength: 4000, placeholder: 'Add a note to the timeline', testid: 'note-text' });
  const submit = h('button', { type: 'submit', testid: 'note-submit' }, 'Add note');
  const form = h('form', { class: 'note-form' }, text, h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return;
    submit.disabled = true;
    try {
      await s.act.addNote(text.value);
      text.value = '';
    } catch (err) {
      showError(err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The title, badges, description and the incident's buttons. */
export function renderHead(s) {
  const { incident } = s;
  if (!incident) return;
  document.title = `${incident.title} — itops`;
  const toolbar = h('div', { class: 'toolbar' });
  if (canAct()) {
    if (s.checkpoint === null && !TERMINAL.has(incident.status)) {
      add(toolbar, h('button', { class: 'primary', type: 'button', testid: 'start-workflow', onclick: s.act.startWorkflow }, 'Start workflow'));
    }
    add(toolbar,
      h('button', { type: 'button', testid: 'edit-incident', onclick: s.act.toggleEdit }, s.editing ? 'Close editor' : 'Edit'),
      TERMINAL.has(incident.status) ? null : [
        h('button', { type: 'button', testid: 'resolve-incident', onclick: () => s.act.closeByHand('resolved') }, 'Mark resolved'),
        h('button', { type: 'button', testid: 'escalate-incident', onclick: () => s.act.closeByHand('escalated') }, 'Escalate'),
      ],
      isAdmin() ? h('button', { class: 'danger', type: 'button', testid: 'delete-incident', onclick: s.act.deleteIncident }, 'Delete') : null);
  }
  fill(s.els.head,
    h('div', { class: 'crumbs' }, h('a', { href: '#/' }, '← Incidents')),
    h('h1', { testid: 'incident-title' }, incident.title),
    h('div', { class: 'badges' },
      sevBadge(incident.severity),
      statusBadge(incident.status, { testid: 'incident-status' }),
      (incident.affected_services || []).map((x) => h('span', { class: 'chip' }, x))),
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

export function renderNotFound(s) {
  fill(s.els.head, h('div', { class: 'crumbs' }, h('a', { href: '#/' }, '← Incidents')),
    h('h1', {}, 'Incident not found'));
}

/** The edit form, filled with the incident as it is now; saving calls `s.act.saveEdit`. */
export function renderEdit(s) {
  const { incident } = s;
  const title = h('input', { name: 'title', value: incident.title, required: true, maxlength: 200 });
  const description = h('textarea', { name: 'description', rows: 4, value: incident.description || '' });
  const severity = h('select', { name: 'severity' }, SEVERITIES.map((x) => h('option', { value: x }, x)));
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
    h('div', { class: 'form-actions' }, save, h('button', { type: 'button', onclick: s.act.toggleEdit }, 'Cancel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    try {
      await s.act.saveEdit({
        title: title.value,
        description: description.value,
        severity: severity.value,
        services: services.value,
      });
    } finally {
      save.disabled = false;
    }
  });
  fill(s.els.editCard, form);
}

/** The approval card, redrawn only when the approval changed. */
export function renderApproval(s) {
  // Re-rendering only on a change keeps the comment box (and its focus) while typing.
  const { approval } = s;
  const card = s.els.approvalCard;
  const key = approval ? `${approval.id}:${approval.status}:${approval.version}:${canAct()}` : null;
  if (key === s.renderedApproval) return;
  s.renderedApproval = key;
  if (!approval) { card.hidden = true; return; }
  const pending = approval.status === 'pending';
  card.hidden = false;
  card.classList.toggle('attention', pending);
  fill(card, approvalBody(approval, {
    decide: pending && canAct() ? s.act.decide : null,
    comment: s.approvalComment,
    onComment: (v) => { s.approvalComment = v; },
    openKeys: s.openKeys,
  }));
}

/** The workflow card: its state and each finished step's results. */
export function renderWorkflow(s) {
  const { checkpoint: cp, incident } = s;
  const card = s.els.workflowCard;
  if (cp === undefined) return;
  card.replaceChildren();
  if (cp === null) {
    add(card,
      h('div', { class: 'card-head' }, h('h2', {}, 'Workflow')),
      h('p', { class: 'muted' }, 'The workflow has not started: triage, root cause, remediation plan, approval, execution, verification.'),
      canAct() && incident && !TERMINAL.has(incident.status)
        ? h('button', { class: 'primary', type: 'button', onclick: s.act.startWorkflow }, 'Start workflow')
        : null);
    return;
  }
  const data = cp.data || {};
  add(card, h('div', { class: 'card-head' },
    h('h2', {}, 'Workflow'),
    statusBadge(cp.state, { testid: 'workflow-state' }),
    h('span', { class: 'muted small' }, `${cp.steps_completed ?? 0} step(s) · updated `, timeEl(cp.updated_at, true))));
  if (data.escalation_reason) {
    add(card, h('div', { class: 'alert', testid: 'escalation-reason' }, 'Escalated to humans: ', data.escalation_reason));
  }
  const sections = [];
  if (data.triage) sections.push(triageSection(data.triage));
  if (data.finding) sections.push(findingSection(data.finding, s.openKeys));
  if (data.plan) sections.push(planSection(data.plan, data, s.openKeys));
  if (data.verification) sections.push(verificationSection(data.verification, s.openKeys));
  if (!sections.length) {
    sections.push(h('p', { class: 'muted' }, TERMINAL.has(cp.state) ? 'The workflow ended.' : 'Working… results appear here as each step finishes.'));
  }
  add(card, ...sections);
}

/** One timeline entry; `fresh` marks one that arrived while the page was open. */
export function entryEl(s, entry, fresh) {
  const kind = entry.kind || 'note';
  const hasPayload = entry.payload != null && !(typeof entry.payload === 'object' && Object.keys(entry.payload).length === 0);
  return h('li', {
    class: `tl-entry k-${kind}${fresh ? ' fresh' : ''}`,
    dataset: { kind, seq: String(entry.seq) },
    hidden: s.keyOnly && STEP_KINDS.has(kind),
  },
  h('span', { class: 'tl-kind', title: kind }, KIND_LABELS[kind] || words(kind)),
  h('div', { class: 'tl-body' },
    h('div', { class: 'tl-summary' }, entry.summary),
    h('div', { class: 'tl-meta' },
      h('span', { class: 'actor' }, actorText(entry.actor)),
      timeEl(entry.at, true),
      h('span', {}, `#${entry.seq}`)),
    hasPayload ? jsonDetails('details', entry.payload) : null));
}

/** The live indicator: `mode` is 'on', 'retry' or '' (polling, offline, deleted). */
export function setLive(s, mode, text) {
  s.els.live.className = `live ${mode}`;
  s.els.live.textContent = text;
}

/** The telemetry card: charts of `m` (`/metrics`), or why there are none (`error`). */
export function renderMetrics(s, m, error) {
  if (m) {
    fill(s.els.metricsCard, h('div', { class: 'card-head' }, h('h2', {}, 'Telemetry (last 60 min)'),
      h('span', { class: 'muted small' }, `${fmtClock(m.from)} – ${fmtClock(m.to)}`)), metricsBody(m));
  } else {
    fill(s.els.metricsCard, h('div', { class: 'card-head' }, h('h2', {}, 'Telemetry')),
      h('p', { class: 'muted' }, error));
  }
}
