// Incident forms: creating an incident, and the pieces the edit form shares with it.

import { api } from './api.js';
import { showError } from './banner.js';
import { add, h, incidentHref } from './dom.js';
import { SEVERITIES } from './format.js';
import { state } from './session.js';

/** A `<datalist>` of the simulator's services, for the services fields. */
export function servicesDatalist(id) {
  const list = h('datalist', { id });
  for (const s of state.simulator?.services || []) add(list, h('option', { value: s }));
  return list;
}

/** "checkout, payment" as a list of services. */
export function parseServices(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

/** The create-incident form; `done` runs after a successful create. */
export function createForm(done) {
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
