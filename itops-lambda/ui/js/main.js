// itops web UI: a single-page app over the itops HTTP API. Plain ES modules, no framework, no
// build step, nothing loaded from elsewhere. This entry module signs in from a `#token=`
// link, wires the session's hooks and starts the router.

import { onUnauthorized } from './api.js';
import { restart, route, signedOut } from './router.js';
import { bootstrapToken, state } from './session.js';
import { onSignOut } from './shell.js';

onUnauthorized(signedOut);
onSignOut(restart);
bootstrapToken();
window.addEventListener('hashchange', () => {
  // A pasted `#token=` link while the app is open.
  if (location.hash.startsWith('#token=')) {
    bootstrapToken();
    state.me = null;
  }
  route();
});
route();
