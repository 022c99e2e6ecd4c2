// The banner under the top bar: errors, and confirmations of what just happened.

import { ApiError } from './api.js';
import { $, fill, h } from './dom.js';

export function errorText(err) {
  if (err instanceof ApiError) {
    let text = err.message || `request failed (${err.status})`;
    if (err.field) text += ` (field: ${err.field})`;
    return err.code ? `${text} [${err.code}]` : text;
  }
  return String(err?.message || err);
}

export function showBanner(message, ok = false) {
  const b = $('#banner');
  b.classList.toggle('ok', ok);
  fill(b,
    h('span', { class: 'banner-text' }, message),
    h('button', { class: 'banner-close', type: 'button', 'aria-label': 'Dismiss', onclick: hideBanner }, '×'),
  );
  b.hidden = false;
}

export function showError(err) {
  if (err?.name === 'AbortError') return;
  console.error(err);
  showBanner(errorText(err));
}

export function hideBanner() {
  $('#banner').hidden = true;
}
