// Who is signed in: the bearer token (kept for this tab's session only), the caller's
// identity and role, and what the server offers (the simulator).

const TOKEN_KEY = 'itops.token';

/** The session: `token` (or null), `me` (`/api/me`, or null), `simulator` (`/api/simulator`). */
export const state = {
  token: null,
  me: null,
  simulator: null,
};

// The token is kept for this tab's session only (sessionStorage): closing the tab signs out,
// and nothing is left on the machine for the next person or a script of another page.
function readStoredToken() {
  try {
    // A token an earlier version kept for good is moved to this session and deleted.
    const legacy = localStorage.getItem(TOKEN_KEY);
    if (legacy) {
      localStorage.removeItem(TOKEN_KEY);
      if (!sessionStorage.getItem(TOKEN_KEY)) sessionStorage.setItem(TOKEN_KEY, legacy);
    }
  } catch { /* storage disabled */ }
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return state.token; }
}

/** Keeps `token` for this session (none: signed out). */
export function storeToken(token) {
  state.token = token || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: keep it for this page only */ }
}

/**
 * Takes `#token=...` (the link the server prints) into storage and out of the address bar.
 * Someone already signed in is asked before a link replaces their identity: a link sent by
 * someone else would otherwise sign them in as its owner without their noticing.
 */
export function bootstrapToken() {
  const fragment = location.hash.replace(/^#/, '');
  const current = readStoredToken();
  if (fragment.startsWith('token=')) {
    const token = new URLSearchParams(fragment).get('token');
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    const replace = token && token !== current && (!current || window.confirm(
      'This link signs you in with another token, replacing the one you are signed in with. Continue?'));
    if (replace) storeToken(token);
  }
  state.token = readStoredToken();
}

export function isAdmin() {
  return !state.me?.role || state.me.role === 'admin';
}

export function canAct() {
  const role = state.me?.role;
  // Without a role (an older server) the controls show and the server decides.
  return !role || role === 'operator' || role === 'admin';
}
