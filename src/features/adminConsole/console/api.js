/**
 * The service's API as the console calls it: same origin, the admin token from sessionStorage
 * sent as a Bearer token (never in a URL, never logged), errors as the API's own code and message.
 */

/** The API's base: the console's assets are served at `<base>/admin/…`. */
export const API_BASE = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

const TOKEN_KEY = 'escrowConsole.token';

/** The admin token of this tab (sessionStorage: gone when the tab closes). */
export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A refused or failed call: HTTP status (0 when unreachable), the API's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** "409 escrow_not_funded: this purchase request has no funded escrow to pay from" */
  describe() {
    return `${this.status || 'no answer'} ${this.code}: ${this.message}`;
  }
}

/**
 * Calls the API; resolves to `{ status, message, data }` for a 2xx answer, rejects with an ApiError
 * otherwise. `path` is relative to the API base (`/admin/queue?view=decisions`).
 */
export async function call(method, path, body) {
  const token = session.token();
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(`${API_BASE}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (err) {
    throw new ApiError(0, 'unreachable', `cannot reach the service (${err instanceof Error ? err.message : String(err)})`);
  }
  let json = {};
  try {
    json = await res.json();
  } catch {
    // Not JSON: reported by status below.
  }
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? 'unexpected_answer', json?.error?.message ?? res.statusText);
  return { status: res.status, message: json?.message, data: json?.data };
}

/** What the token says about its holder (its payload, not a secret): who and until when. Not verified here. */
export function tokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '=')));
  } catch {
    return {};
  }
}
