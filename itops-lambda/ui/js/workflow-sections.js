// The workflow's results on the incident page: triage, root cause with its evidence, the
// remediation plan (and its actions' execution), verification.

import { h, jsonDetails, lazyDetails } from './dom.js';
import { badge, fmtClock, fmtTime, meterFill, riskBadge, sevBadge, words } from './format.js';

export function triageSection(t) {
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

export function findingSection(f, openKeys) {
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
export function actionsTable(actions, records) {
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

export function planSection(plan, data, openKeys) {
  const needs = data.needs_approval;
  return h('div', { class: 'section', testid: 'plan' },
    h('h3', {}, 'Remediation plan'),
    plan.rationale ? h('p', { class: 'pre-line' }, plan.rationale) : null,
    needs == null || !plan.actions?.length ? null
      : h('p', { class: 'small muted' }, needs ? 'Needs human approval before anything runs.' : 'Runs without approval under the action policy.'),
    plan.actions?.length ? actionsTable(plan.actions, data.actions || []) : h('p', { class: 'muted' }, 'No actions proposed.'),
    jsonDetails('plan as JSON', plan, 'plan-json', openKeys));
}

export function verificationSection(v, openKeys) {
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
