// The page around the views: the signed-in user, the navigation, the count of pending
// approvals, and whether the simulator's page is offered.

import { api } from './api.js';
import { $, fill, h } from './dom.js';
import { state, storeToken } from './session.js';

let signOutHandler = () => {};

/** Sets what the Sign out button does after forgetting the token (the router starts over). */
export function onSignOut(handler) {
  signOutHandler = handler;
}

export function setActiveNav(name) {
  for (const a of document.querySelectorAll('.nav a')) {
    a.classList.toggle('active', a.dataset.nav === name);
  }
}

export async function loadMe(signOutOn401 = true) {
  try {
    state.me = await api('GET', '/api/me', { signOutOn401 });
  } catch (err) {
    if (err.status === 401) throw err;
    // An unknown role: controls show and the server decides.
    state.me = { name: 'unknown', role: null };
  }
  renderUser();
}

export function renderUser() {
  const el = $('#user');
  if (!state.token || !state.me) {
    el.replaceChildren();
    return;
  }
  fill(el,
    h('span', { class: 'name' }, state.me.name || 'signed in'),
    state.me.role ? h('span', { class: 'role', testid: 'role' }, state.me.role) : null,
    h('button', {
      type: 'button',
      onclick: () => {
        storeToken(null);
        state.me = null;
        renderUser();
        signOutHandler();
      },
    }, 'Sign out'),
  );
}

/** Shows or hides the Simulator link after `state.simulator` changed. */
export function showSimulatorNav() {
  $('#nav-simulator').hidden = !state.simulator?.enabled;
}

export async function loadSimulatorNav() {
  try {
    state.simulator = await api('GET', '/api/simulator');
  } catch {
    state.simulator = null;
  }
  showSimulatorNav();
  document.body.dataset.simulator = state.simulator?.enabled ? 'on' : 'off';
}

/** Shows `n` pending approvals next to the Approvals link (nothing for none). */
export function setApprovalCount(n) {
  const el = $('#approval-count');
  el.textContent = String(n);
  el.hidden = n === 0;
}

export async function refreshApprovalCount() {
  try {
    const pending = await api('GET', '/api/approvals?status=pending');
    setApprovalCount(Array.isArray(pending) ? pending.length : 0);
  } catch {
    $('#approval-count').hidden = true;
  }
}
