import { ApiError, call, session, tokenClaims } from './api.js';
import { byId } from './dom.js';
import { createDetail } from './detail.js';
import { createQueue } from './queue.js';

/**
 * The escrow admin console: sign in with an admin token, the work queue, a payment's detail and
 * its release or refund through the browser wallet. Routing: `#/payments/<id>` opens a payment.
 */

const pageSize = (() => {
  const n = Number(new URLSearchParams(location.search).get('limit'));
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 20;
})();

const notice = byId('notice');
function say(text, kind = 'error') {
  notice.textContent = text;
  notice.className = kind;
  notice.hidden = !text;
}

/** Any call refused for the token itself ends the session: sign in again. */
function onError(err) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    signOut(`signed out: ${err.describe()}`);
    return;
  }
  say(err instanceof ApiError ? err.describe() : String(err?.message ?? err));
}

const queue = createQueue(byId('queue'), { pageSize, onOpen: (id) => (location.hash = `#/payments/${id}`), onError });
const detail = createDetail(byId('detail'), {
  onBack: () => (location.hash = '#/queue'),
  onChanged: () => void queue.refresh(),
});

function showSignedIn(signedIn) {
  byId('sign-in').hidden = signedIn;
  byId('sign-out').hidden = !signedIn;
  byId('queue').hidden = !signedIn;
  const claims = signedIn ? tokenClaims(session.token()) : {};
  const who = claims.sub ?? claims.userId ?? claims.id;
  byId('who').textContent = signedIn ? `admin ${who ?? ''}${claims.exp ? `, token valid until ${new Date(claims.exp * 1000).toLocaleTimeString()}` : ''}` : '';
}

function route() {
  if (!session.token()) return;
  const match = /^#\/payments\/([0-9a-f]{24})$/.exec(location.hash);
  if (match) {
    byId('queue').hidden = true;
    void detail.open(match[1]);
  } else {
    detail.close();
    byId('queue').hidden = false;
  }
}

function signOut(message) {
  session.signOut();
  detail.close();
  showSignedIn(false);
  say(message ?? '', message ? 'error' : 'info');
  byId('token').focus();
}

byId('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = byId('token');
  const token = input.value.trim().replace(/^Bearer\s+/i, '');
  input.value = '';
  if (!token) return;
  session.signIn(token);
  try {
    await call('GET', '/admin/queue/counts');
  } catch (err) {
    session.signOut();
    say(`sign-in refused: ${err instanceof ApiError ? err.describe() : String(err)}`);
    return;
  }
  say('');
  showSignedIn(true);
  route();
  await queue.refresh();
});

byId('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);

if (session.token()) {
  showSignedIn(true);
  route();
  void queue.refresh();
} else {
  showSignedIn(false);
}
