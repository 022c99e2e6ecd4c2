// The incident page: its state, the actions that change it, and how it starts and stops.
// What the page shows is drawn by incident-render.js from the state; the workflow and the
// approval are incident-workflow.js's; live updates are incident-live.js's.

import { api, qs } from './api.js';
import { errorText, showBanner, showError } from './banner.js';
import { add } from './dom.js';
import { CHECKPOINT_KINDS, TERMINAL } from './format.js';
import { parseServices } from './incident-form.js';
import { follow } from './incident-live.js';
import {
  entryEl, layout, renderEdit, renderHead, renderMetrics, renderNotFound, setLive,
} from './incident-render.js';
import { decide, loadCheckpoint, scheduleCheckpoint, startWorkflow } from './incident-workflow.js';

const TIMELINE_PAGE = 500;

/** Shows the incident `id` in `app`; returns the view (`dispose()` stops it). */
export function incidentView(app, id) {
  const ctl = new AbortController();
  const s = {
    id,
    enc: encodeURIComponent(id),
    signal: ctl.signal,
    /** The `<details>` the user opened, kept open when a section is redrawn. */
    openKeys: new Set(),
    incident: null,
    checkpoint: undefined, // undefined: not loaded; null: workflow not started
    approval: null,
    approvalComment: '',
    renderedApproval: null,
    lastSeq: 0,
    seen: new Set(),
    editing: false,
    keyOnly: false,
    checkpointTimer: null,
    checkpointLoading: null,
    metricsTimer: null,
  };
  s.act = {
    startWorkflow: (ev) => startWorkflow(s, ev),
    toggleEdit: () => toggleEdit(s),
    saveEdit: (fields) => saveEdit(s, fields),
    closeByHand: (status) => closeByHand(s, status),
    deleteIncident: () => deleteIncident(s),
    decide: (decision, comment) => decide(s, decision, comment),
    addNote: (text) => addNote(s, text),
  };
  s.els = layout(app, s);
  start(s);
  // A slow safety net in case an event is missed.
  const safety = setInterval(() => {
    if (document.hidden) return;
    loadIncident(s).catch(() => {});
    if (s.checkpoint && !TERMINAL.has(s.checkpoint.state)) scheduleCheckpoint(s);
  }, 20000);

  return {
    dispose() {
      ctl.abort();
      clearInterval(safety);
      clearTimeout(s.checkpointTimer);
      clearTimeout(s.metricsTimer);
      document.title = 'itops';
    },
  };
}

async function start(s) {
  try {
    await loadIncident(s);
  } catch (err) {
    showError(err);
    setLive(s, '', 'offline');
    return;
  }
  try {
    await catchUp(s, false);
    s.els.timelineScroll.scrollTop = s.els.timelineScroll.scrollHeight;
  } catch (err) {
    showError(err);
  }
  try {
    await loadCheckpoint(s);
  } catch (err) {
    showError(err);
  }
  loadMetrics(s);
  follow(s, {
    onEvent: (name, data) => onEvent(s, name, data),
    loadIncident: () => loadIncident(s),
    catchUp: (fresh) => catchUp(s, fresh),
  });
}

// -- the incident --

function setIncident(s, next) {
  const { incident } = s;
  if (!next || (incident && next.version != null && incident.version != null && next.version < incident.version)) return;
  const statusChanged = !incident || incident.status !== next.status;
  s.incident = next;
  renderHead(s);
  if (statusChanged && s.checkpoint !== undefined) scheduleCheckpoint(s);
}

async function loadIncident(s) {
  try {
    setIncident(s, await api('GET', `/api/incidents/${s.enc}`, { signal: s.signal }));
  } catch (err) {
    if (err.status === 404) renderNotFound(s);
    throw err;
  }
}

function toggleEdit(s) {
  s.editing = !s.editing;
  s.els.editCard.hidden = !s.editing;
  if (s.editing) renderEdit(s);
  renderHead(s);
}

async function saveEdit(s, { title, description, severity, services }) {
  try {
    const updated = await api('PATCH', `/api/incidents/${s.enc}`, {
      body: {
        title,
        description,
        severity,
        affected_services: parseServices(services),
        version: s.incident.version,
      },
    });
    s.editing = false;
    s.els.editCard.hidden = true;
    setIncident(s, updated);
    showBanner('Incident updated.', true);
  } catch (err) {
    showError(err);
    if (err.status === 409) loadIncident(s).catch(() => {});
  }
}

async function closeByHand(s, status) {
  const what = status === 'resolved' ? 'Mark the incident resolved' : 'Escalate the incident to humans';
  if (!window.confirm(`${what}? A running workflow stops at its next step.`)) return;
  try {
    setIncident(s, await api('PATCH', `/api/incidents/${s.enc}`, { body: { status, version: s.incident.version } }));
  } catch (err) {
    showError(err);
    if (err.status === 409) loadIncident(s).catch(() => {});
  }
}

async function deleteIncident(s) {
  if (!window.confirm(`Delete the incident "${s.incident.title}" and its timeline?`)) return;
  try {
    await api('DELETE', `/api/incidents/${s.enc}`);
    location.hash = '#/';
  } catch (err) {
    showError(err);
  }
}

// -- the timeline --

async function addNote(s, text) {
  const entry = await api('POST', `/api/incidents/${s.enc}/notes`, { body: { text } });
  addEntries(s, [entry], true);
}

function addEntries(s, entries, fresh) {
  const { timeline, timelineScroll: scroll } = s.els;
  let refreshCheckpoint = false;
  let refreshMetrics = false;
  const nearBottom = scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight < 60;
  for (const entry of entries) {
    if (!entry || typeof entry.seq !== 'number' || s.seen.has(entry.seq)) continue;
    s.seen.add(entry.seq);
    const li = entryEl(s, entry, fresh);
    if (entry.seq > s.lastSeq) {
      add(timeline, li);
      s.lastSeq = entry.seq;
    } else {
      const after = [...timeline.children].find((c) => Number(c.dataset.seq) > entry.seq);
      timeline.insertBefore(li, after || null);
    }
    if (CHECKPOINT_KINDS.has(entry.kind)) refreshCheckpoint = true;
    if (entry.kind === 'action' || entry.kind === 'verification') refreshMetrics = true;
  }
  s.els.count.textContent = `${s.seen.size} entries`;
  if (nearBottom) scroll.scrollTop = scroll.scrollHeight;
  if (fresh && refreshCheckpoint) scheduleCheckpoint(s);
  if (fresh && refreshMetrics) scheduleMetrics(s);
}

/** Reads every entry after `s.lastSeq`, page by page. */
async function catchUp(s, fresh) {
  for (;;) {
    const page = await api('GET', `/api/incidents/${s.enc}/timeline${qs({ after_seq: s.lastSeq, limit: TIMELINE_PAGE })}`, { signal: s.signal });
    if (!Array.isArray(page) || !page.length) return;
    const before = s.lastSeq;
    addEntries(s, page, fresh);
    if (page.length < TIMELINE_PAGE || s.lastSeq === before) return;
  }
}

function onEvent(s, name, data) {
  let value;
  try { value = JSON.parse(data); } catch { return; }
  if (name === 'timeline') addEntries(s, [value], true);
  else if (name === 'incident') setIncident(s, value);
}

// -- the telemetry --

function scheduleMetrics(s) {
  clearTimeout(s.metricsTimer);
  s.metricsTimer = setTimeout(() => loadMetrics(s), 500);
}

async function loadMetrics(s) {
  clearTimeout(s.metricsTimer);
  try {
    renderMetrics(s, await api('GET', `/api/incidents/${s.enc}/metrics?minutes=60`, { signal: s.signal }));
  } catch (err) {
    if (s.signal.aborted) return;
    renderMetrics(s, null, err.status === 404 ? 'No telemetry for this incident.' : `Telemetry unavailable: ${errorText(err)}`);
  }
  if (!s.signal.aborted && !(s.incident && TERMINAL.has(s.incident.status) && s.checkpoint?.data?.verification)) {
    s.metricsTimer = setTimeout(() => loadMetrics(s), 15000);
  }
}
