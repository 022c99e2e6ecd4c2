// The one-time approval link of a notification (`#/approvals/ID?token=...`): decides with the
// link's token, or under the signed-in operator's own name.

import { api } from './api.js';
import { errorText, showBanner, showError } from './banner.js';
import { add, fill, h } from './dom.js';
import { approvalBody } from './approval-card.js';
import { words } from './format.js';
import { canAct, state } from './session.js';
import { loadMe } from './shell.js';

export function approvalLinkView(app, id, oneTimeToken) {
  const ctl = new AbortController();
  const enc = encodeURIComponent(id);
  const card = h('div', { class: 'card', testid: 'approval-card' }, h('p', { class: 'muted' }, 'Loading…'));
  const note = h('div');
  add(app, h('div', { class: 'approval-page' }, note, card));
  let useBearer = false;
  let comment = '';
  const decider = h('input', { name: 'decided_by', maxlength: 100, placeholder: 'your name', autocomplete: 'name', testid: 'decided-by' });

  async function chooseAuth() {
    if (!state.token) return false;
    if (!state.me) {
      try { await loadMe(false); } catch { return Boolean(!oneTimeToken); }
    }
    // An operator decides under their own name; anyone else uses the link's token.
    return canAct() || !oneTimeToken;
  }

  async function load() {
    const opts = useBearer
      ? { signal: ctl.signal }
      : { signal: ctl.signal, auth: false, headers: { 'X-Approval-Token': oneTimeToken || '' } };
    const a = await api('GET', `/api/approvals/${enc}`, opts);
    render(a);
  }

  function render(a) {
    card.classList.toggle('attention', a.status === 'pending');
    fill(card, approvalBody(a, {
      decide: a.status === 'pending' && (useBearer ? canAct() : Boolean(oneTimeToken)) ? decide : null,
      comment,
      onComment: (v) => { comment = v; },
      showIncidentLink: useBearer,
    }));
  }

  async function decide(decision, text) {
    const body = { decision, comment: text || undefined };
    if (!useBearer) {
      body.token = oneTimeToken;
      if (decider.value.trim()) body.decided_by = decider.value.trim();
    }
    try {
      const a = await api('POST', `/api/approvals/${enc}/decision`, useBearer ? { body } : { body, auth: false });
      comment = '';
      showBanner(`Decision recorded: ${words(a.status)}.`, true);
      render(a);
    } catch (err) {
      showError(err);
      load().catch(() => {});
    }
  }

  (async () => {
    useBearer = await chooseAuth();
    if (!useBearer && !oneTimeToken) {
      fill(card, h('h2', {}, 'Approval'), h('p', {}, 'This link has no approval token. ',
        h('a', { href: '#/' }, 'Sign in'), ' to decide from the incident page.'));
      return;
    }
    if (!useBearer) {
      fill(note, h('div', { class: 'alert info' }, 'Deciding with the one-time link from the notification. ',
        'Your name goes on the timeline: ', decider));
    }
    try {
      await load();
    } catch (err) {
      fill(card, h('h2', {}, 'Approval'), h('p', { class: 'muted' }, errorText(err)));
      showError(err);
    }
  })();
  return { dispose() { ctl.abort(); } };
}
