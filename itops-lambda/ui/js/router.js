// The router: the address's fragment (`#/incidents/ID`, `#/approvals`, ...) picks the view;
// the view in place is disposed of (its requests aborted, its timers stopped) before the next.

import { hideBanner } from './banner.js';
import { add, fill, h } from './dom.js';
import { state, storeToken } from './session.js';
import { loadMe, loadSimulatorNav, refreshApprovalCount, renderUser, setActiveNav } from './shell.js';
import { approvalLinkView } from './view-approval-link.js';
import { approvalsView } from './view-approvals.js';
import { incidentView } from './view-incident.js';
import { listView } from './view-list.js';
import { loginView } from './view-login.js';
import { simulatorView } from './view-simulator.js';

let view = null;
let routeGeneration = 0;

function disposeView() {
  if (view?.dispose) view.dispose();
  view = null;
}

function parseRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { path: path || '/', params };
}

/** Shows the view of the current address. */
export async function route() {
  const generation = ++routeGeneration;
  disposeView();
  hideBanner();
  const app = document.getElementById('app');
  const { path, params } = parseRoute();
  let m;

  // The approval link works without a bearer token: it carries a one-time token.
  if ((m = path.match(/^\/approvals\/([^/]+)$/))) {
    setActiveNav('approvals');
    app.replaceChildren();
    view = approvalLinkView(app, decodeURIComponent(m[1]), params.get('token'));
    return;
  }
  if (!state.token) {
    setActiveNav('');
    loginView(app, route);
    return;
  }
  if (!state.me) {
    fill(app, h('p', { class: 'muted' }, 'Loading…'));
    try {
      await loadMe();
    } catch {
      return; // signedOut showed the login form
    }
    loadSimulatorNav();
    refreshApprovalCount();
    if (generation !== routeGeneration) return;
  }
  app.replaceChildren();
  if (path === '/' || path === '/incidents') {
    setActiveNav('incidents');
    view = listView(app);
  } else if ((m = path.match(/^\/incidents\/([^/]+)$/))) {
    setActiveNav('incidents');
    view = incidentView(app, decodeURIComponent(m[1]));
  } else if (path === '/approvals') {
    setActiveNav('approvals');
    view = approvalsView(app);
  } else if (path === '/simulator') {
    setActiveNav('simulator');
    view = simulatorView(app);
  } else {
    setActiveNav('');
    add(app, h('div', { class: 'card narrow' }, h('h2', {}, 'Not found'),
      h('p', {}, 'There is no page here. ', h('a', { href: '#/' }, 'Back to the incidents'), '.')));
  }
}

/** The server rejected the token: forget it and ask for another. */
export function signedOut(err) {
  storeToken(null);
  setActiveNav('');
  state.me = null;
  renderUser();
  disposeView();
  loginView(document.getElementById('app'), route, `The server did not accept the token: ${err.message}`);
}

/** After Sign out: back to the start (the login form). */
export function restart() {
  location.hash = '#/';
  route();
}
