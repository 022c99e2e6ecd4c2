// The API's vocabulary (severities, statuses, timeline kinds) and how values are shown:
// times, numbers, actors, badges.

import { h } from './dom.js';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'];
export const STATUSES = [
  'open', 'triaging', 'investigating', 'planning', 'awaiting_approval',
  'executing', 'verifying', 'resolved', 'escalated',
];
export const TERMINAL = new Set(['resolved', 'escalated']);
/** Timeline kinds after which the workflow checkpoint has changed. */
export const CHECKPOINT_KINDS = new Set([
  'triage', 'finding', 'plan', 'approval_requested', 'approval_decided', 'action',
  'verification', 'error', 'decision',
]);
/** The agents' reasoning steps, hidden by the "key events" timeline filter. */
export const STEP_KINDS = new Set(['thought', 'tool_call', 'observation']);
export const KIND_LABELS = {
  created: 'created', updated: 'updated', status_changed: 'status', thought: 'thought',
  tool_call: 'tool call', observation: 'observed', decision: 'decision', triage: 'triage',
  finding: 'finding', plan: 'plan', approval_requested: 'approval?', approval_decided: 'approval',
  action: 'action', verification: 'verify', notification: 'notify', note: 'note', error: 'error',
};

export function fmtTime(value) {
  if (!value) return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

export function fmtClock(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/**
 * A `<time>` showing local time, with the exact instant on hover. No "5 min ago": the server's
 * clock is simulated time when it runs the simulator, and runs ahead of the browser's.
 */
export function timeEl(value, short = false) {
  if (!value) return h('span', { class: 'muted' }, '—');
  const d = new Date(value);
  const title = Number.isNaN(d.getTime()) ? String(value) : d.toISOString();
  return h('time', { datetime: String(value), title }, short ? fmtClock(value) : fmtTime(value));
}

export function words(s) {
  return String(s ?? '').replace(/_/g, ' ');
}

export function fmtNumber(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1).replace(/\.0$/, '');
  if (a === 0) return '0';
  return v.toPrecision(2);
}

export function actorText(actor) {
  if (!actor) return 'unknown';
  if (typeof actor === 'string') return actor;
  const type = actor.type || 'unknown';
  return actor.name ? `${words(type)} ${actor.name}` : words(type);
}

export function badge(kind, value, extra = {}) {
  return h('span', { class: `badge ${kind}-${value}`, ...extra }, words(value));
}
export const sevBadge = (s) => badge('sev', s, { title: 'severity' });
export const statusBadge = (s, extra = {}) => badge('st', s, { title: 'status', dataset: { status: s }, ...extra });
export const riskBadge = (r) => badge('risk', r, { title: 'risk' });

/** A bar filled to `fraction` (0 to 1), for urgency and confidence. */
export function meterFill(fraction) {
  const span = h('span');
  span.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  return span;
}
