// Shared by every page: calls to this gateway's API with readable errors,
// copy buttons, and the signed-in session (sessionStorage only: never a
// cookie or localStorage, so a key leaves with the tab).

/** A failed API call, with a message fit to show to a person. */
export class ApiFailure extends Error {
  constructor(status, code, message, said = '') {
    super(message);
    this.status = status;
    this.code = code;
    this.said = said; // the gateway's own words, without a hint
  }
}

const HINTS = {
  400: 'Please check what you entered.',
  401: 'Check the account name and key.',
  403: 'This key or email is not allowed to do that.',
  404: 'Check the account name.',
  405: 'The account does not allow that.',
  409: '',
  413: 'That is too large.',
  429: 'Too many attempts: wait a minute and try again.'
};

function sentence(text) {
  const t = String(text ?? '').trim();
  if (!t) return '';
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** A readable description of an error response body `{code, message}`. */
export function describeFailure(status, body) {
  if (status >= 500)
    return sentence(body?.message && status !== 500 ? body.message : '') ||
      'The gateway could not do that just now. Please try again later.';
  const said = sentence(body?.message);
  const hint = HINTS[status] ?? '';
  if (said && hint) return `${said} ${hint}`;
  return said || hint || `The request was refused (HTTP ${status}).`;
}

function base64(text) {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** HTTP Basic credentials for an account and key. */
export const basic = (account, key) => `Basic ${base64(`${account}:${key}`)}`;

/**
 * Calls the API on this origin. Resolves with the JSON body (null for 204,
 * text for other types); rejects with an ApiFailure.
 */
export async function api(path, { method = 'GET', body, auth, headers = {} } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'omit', cache: 'no-store' };
  if (auth) init.headers.Authorization = basic(auth.account, auth.key);
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiFailure(0, 'NetworkError', 'The gateway could not be reached. Check your connection and try again.');
  }
  if (res.ok) {
    if (res.status === 204) return null;
    const type = res.headers.get('content-type') || '';
    return type.includes('json') ? res.json() : res.text();
  }
  let error = null;
  try {
    error = await res.json();
  } catch { /* not JSON: describe by status alone */ }
  throw new ApiFailure(res.status, error?.code, describeFailure(res.status, error), sentence(error?.message));
}

/** `/api/v1/user/<account>` and below, with the name encoded. */
export const userPath = (account, ...rest) =>
  ['/api/v1/user', account, ...rest].map((p, i) => (i ? encodeURIComponent(p) : p)).join('/');

/** Shows (or with null, hides) a message element. */
export function show(el, text) {
  el.textContent = text ?? '';
  el.hidden = !text;
}

/** Disables a form's buttons while `work` runs. */
export async function busy(form, work) {
  const buttons = [...form.querySelectorAll('button')];
  buttons.forEach(b => (b.disabled = true));
  try {
    return await work();
  } finally {
    buttons.forEach(b => (b.disabled = false));
  }
}

/** The text a copy button copies: an input's value or an element's text. */
function copyText(target) {
  return 'value' in target && target.tagName !== 'BUTTON' ? target.value : target.textContent;
}

async function copy(button) {
  const target = document.getElementById(button.dataset.copy);
  if (!target) return;
  const text = copyText(target);
  const status = button.parentElement.querySelector('.copied');
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // No clipboard API (e.g. not a secure context): select it for the user
    const range = document.createRange();
    range.selectNodeContents(target);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  if (status) {
    status.textContent = ok ? 'Copied.' : 'Selected: press Ctrl+C (⌘C) to copy.';
    clearTimeout(status.timer);
    status.timer = setTimeout(() => (status.textContent = ''), 4000);
  }
}

document.addEventListener('click', e => {
  const button = e.target.closest('button[data-copy]');
  if (button) copy(button);
});

const SESSION = 'meld-gateway.session';

/** The signed-in account and key of this tab, or null. */
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION));
    return s && typeof s.account === 'string' && typeof s.key === 'string' ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(account, key) {
  sessionStorage.setItem(SESSION, JSON.stringify({ account, key }));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION);
}

/** The key id in a key `<root>.<keyid>:<secret>`. */
export function keyidOf(key) {
  const m = /^[^.:]+\.([^:]+):/.exec(key);
  return m ? m[1] : null;
}

export const ACCOUNT_NAME = /^[a-z0-9_-]{1,63}$/;
