// Live updates of the incident page: the incident's Server-Sent Events stream (reconnecting
// from the last entry seen), or polling where the server has no stream.

import { API_BASE, ApiError, qs, unauthorized } from './api.js';
import { setLive } from './incident-render.js';
import { state } from './session.js';

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/**
 * Follows the incident's event stream, reconnecting from the last seen entry (`s.lastSeq`).
 * `page` holds the page's actions: `onEvent(name, data)`, `loadIncident()`, `catchUp(fresh)`.
 */
export async function follow(s, page) {
  const { signal } = s;
  let backoff = 1000;
  while (!signal.aborted) {
    let opened = 0;
    try {
      const res = await fetch(`${API_BASE}/api/incidents/${s.enc}/events${qs({ after_seq: s.lastSeq })}`, {
        headers: { Authorization: `Bearer ${state.token}`, Accept: 'text/event-stream' },
        signal,
        cache: 'no-store',
      });
      if (res.status === 401) {
        unauthorized(new ApiError(401, 'unauthorized', 'token rejected'));
        return;
      }
      if ([404, 405, 501].includes(res.status)) {
        // The incident is gone (deleted), or this server has no event stream: poll.
        try {
          await page.loadIncident();
        } catch (err) {
          if (err.status === 404) { setLive(s, '', 'deleted'); return; }
        }
        await poll(s, page);
        return;
      }
      if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
      opened = Date.now();
      setLive(s, 'on', 'live');
      await readEvents(res.body, page.onEvent);
    } catch (err) {
      if (signal.aborted) return;
      console.warn('event stream dropped', err);
    }
    if (signal.aborted) return;
    if (opened && Date.now() - opened > 10000) backoff = 1000;
    setLive(s, 'retry', 'reconnecting');
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, 10000);
    // Whatever happened while disconnected comes from the stream's after_seq, but a
    // refresh of the incident and checkpoint keeps the page consistent meanwhile.
    page.loadIncident().catch(() => {});
  }
}

/** Without an event stream: poll the timeline and the incident. */
async function poll(s, page) {
  setLive(s, '', 'polling');
  while (!s.signal.aborted) {
    try {
      await page.catchUp(true);
      await page.loadIncident();
    } catch (err) {
      if (s.signal.aborted) return;
      if (err.status === 404) { setLive(s, '', 'deleted'); return; }
      console.warn('poll failed', err);
    }
    await sleep(2000, s.signal);
  }
}

/** Parses a Server-Sent Events body, calling `onEvent(name, data)` per event. */
export async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let name = '';
  let data = [];
  const dispatch = () => {
    if (data.length) onEvent(name || 'message', data.join('\n'));
    name = '';
    data = [];
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buffer);
      if (!m) break;
      // A lone '\r' at the end may be half of '\r\n': wait for more.
      if (m[0] === '\r' && m.index === buffer.length - 1) break;
      const line = buffer.slice(0, m.index);
      buffer = buffer.slice(m.index + m[0].length);
      if (line === '') { dispatch(); continue; }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let v = colon < 0 ? '' : line.slice(colon + 1);
      if (v.startsWith(' ')) v = v.slice(1);
      if (field === 'event') name = v;
      else if (field === 'data') data.push(v);
    }
  }
}
