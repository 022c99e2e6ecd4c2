// The sign-in form: a pasted API token, kept for this tab's session.

import { fill, h } from './dom.js';
import { state, storeToken } from './session.js';

/** Shows the form in `app`; `route` shows the app once a token is given. */
export function loginView(app, route, message) {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, placeholder: 'paste the token', testid: 'token-input' });
  const form = h('form', { class: 'form' },
    h('label', {}, 'API token',
      h('span', { class: 'hint' }, 'itops serve prints a link with the admin token when it starts; or ask an admin for a token.'),
      input),
    h('div', { class: 'form-actions' }, h('button', { class: 'primary', type: 'submit' }, 'Sign in')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    storeToken(input.value.trim());
    state.me = null;
    if (location.hash === '#/' || location.hash === '') route();
    else location.hash = '#/';
  });
  fill(app, h('div', { class: 'card narrow' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Sign in to itops')),
    message ? h('div', { class: 'alert' }, message) : null,
    form));
  input.focus();
}
