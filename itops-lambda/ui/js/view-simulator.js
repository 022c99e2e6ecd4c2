// The simulator's page: inject a fault into the simulated web shop, and the faults so far
// (refreshed every 5 s).

import { api } from './api.js';
import { showError } from './banner.js';
import { add, fill, h, incidentHref } from './dom.js';
import { fmtNumber, timeEl, words } from './format.js';
import { canAct, state } from './session.js';
import { showSimulatorNav } from './shell.js';

export function simulatorView(app) {
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
      showSimulatorNav();
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
