// The itops HTTP API: JSON requests with the session's bearer token, errors as `ApiError`.

import { state } from './session.js';

/** Where the API lives, relative to this page's origin; empty means the same server. */
export const API_BASE = (document.querySelector('meta[name="itops-api-base"]')?.content || '').replace(/\/$/, '');

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let unauthorizedHandler = () => {};

/** Sets what happens when the server rejects the session's token (the router signs out). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** Reports a rejected token (a 401 from a request made outside `api`). */
export function unauthorized(err) {
  unauthorizedHandler(err);
}

/**
 * Calls the API. `auth: false` sends no bearer token (the approval link's one-time token goes
 * in `headers` or the body instead).
 */
export async function api(method, path, { body, headers = {}, signal, auth = true, signOutOn401 = true } = {}) {
  const h2 = { Accept: 'application/json', ...headers };
  if (auth && state.token) h2.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) h2['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers: h2,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the itops server (${e?.message || e})`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = data && typeof data === 'object' ? data.error : null;
    const err = new ApiError(
      res.status,
      e?.code || `http_${res.status}`,
      e?.message || text.slice(0, 300) || res.statusText,
      e?.field,
    );
    if (res.status === 401 && auth && state.token && signOutOn401) unauthorized(err);
    throw err;
  }
  return data;
}

/** A query string of the parameters that have a value (`''` for none). */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v != null) p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}
