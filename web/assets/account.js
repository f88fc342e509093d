// The account page: sign in with an account name and key (kept in
// sessionStorage for this tab only), then manage keys, subdomains, settings,
// email and the account itself through the Administration API.
import {
  api, busy, show, userPath, session, saveSession, clearSession, keyidOf, ACCOUNT_NAME
} from './common.js';

const $ = id => document.getElementById(id);
const error = $('error'), notice = $('notice');
const signin = $('signin'), dashboard = $('dashboard');
let current = null; // the account's details, as GET /api/v1/user/:account answers
let shownConfig = null; // the last clone configuration shown

// ---- messages ---------------------------------------------------------------

function fail(err, field) {
  show(notice, null);
  show(error, err.message ?? String(err));
  if (err.status === 401 && session()) {
    // The session's key no longer works (revoked, rotated past its grace)
    signOut();
    show(error, `${err.message} You have been signed out.`);
  }
  if (field) field.focus();
}

function tell(text) {
  show(error, null);
  show(notice, text);
}

/** Runs an API action with the page's error handling and busy state. */
function act(form, work) {
  show(error, null);
  show(notice, null);
  return busy(form, async () => {
    try {
      await work();
    } catch (err) {
      fail(err);
    }
  });
}

const auth = () => session();

// ---- signing in and out -----------------------------------------------------

function showSignin() {
  dashboard.hidden = true;
  signin.hidden = false;
  current = null;
}

function signOut() {
  clearSession();
  $('key').value = '';
  showSignin();
}

signin.addEventListener('submit', e => {
  e.preventDefault();
  show(error, null);
  show(notice, null);
  const account = $('account').value.trim();
  const key = $('key').value.trim();
  if (!ACCOUNT_NAME.test(account))
    return fail(new Error('The account name may use only lowercase letters, digits, - and _.'), $('account'));
  if (!keyidOf(key))
    return fail(new Error('That does not look like an account key (it has the form root.keyid:secret).'), $('key'));
  busy(signin, async () => {
    try {
      const details = await api(userPath(account), { auth: { account, key } });
      saveSession(account, key);
      $('key').value = '';
      await enter(details);
    } catch (err) {
      fail(err, $('key'));
    }
  });
});

$('signout').addEventListener('click', () => {
  signOut();
  tell('Signed out. The key is no longer kept in this tab.');
});

async function enter(details) {
  signin.hidden = true;
  dashboard.hidden = false;
  render(details);
  await loadKeys();
}

async function refresh() {
  render(await api(userPath(auth().account), { auth: auth() }));
}

// ---- rendering --------------------------------------------------------------

function el(tag, { dataset, ...props } = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  Object.assign(e.dataset, dataset);
  e.append(...children.filter(c => c != null));
  return e;
}

function button(text, onClick, className = '') {
  const b = el('button', { type: 'button', textContent: text, className });
  b.addEventListener('click', () => onClick(b));
  return b;
}

const when = ms => new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

function render(details) {
  current = details;
  const account = details['@id'];
  $('who').textContent = account;
  document.querySelectorAll('.acct').forEach(s => (s.textContent = account));

  const list = $('subdomains');
  list.replaceChildren(...(details.subdomain ?? []).map(name => el('li', {},
    el('span', { className: 'name', textContent: name }),
    button('Configuration', b => showConfig(name, b)),
    button('Remove', b => removeSubdomain(name, b), 'danger'))));
  $('no-subdomains').hidden = list.children.length > 0;

  const emails = $('emails');
  emails.replaceChildren(...(details.email ?? []).map(address => el('li', {},
    el('span', { className: 'name', textContent: address }),
    button('Remove', b => removeEmail(address, b), 'danger'))));
  $('no-emails').hidden = emails.children.length > 0;

  const settings = $('settings');
  const naming = details.naming ?? [], remotesAuth = details.remotesAuth ?? [];
  for (const box of settings.querySelectorAll('input[name=naming]'))
    box.checked = naming.includes(box.value);
  for (const box of settings.querySelectorAll('input[name=remotesAuth]'))
    // No remotesAuth at all means key authentication
    box.checked = remotesAuth.includes(box.value) || (box.value === 'key' && !remotesAuth.length);
}

// ---- keys -------------------------------------------------------------------

async function loadKeys() {
  const keys = await api(userPath(auth().account, 'key'), { auth: auth() });
  const mine = keyidOf(auth().key);
  keys.sort((a, b) => a.created - b.created);
  $('keys').tBodies[0].replaceChildren(...keys.map(k => {
    let status = k.status;
    if (k.status === 'active' && k.expires) status = `active until ${when(k.expires)}`;
    if (k.status === 'expired' && k.expires) status = `expired ${when(k.expires)}`;
    const actions = el('td', { className: 'actions-cell' });
    if (k.status !== 'revoked') {
      if (!k.expires) actions.append(button('Rotate', b => rotateKey(k.keyid, b)), ' ');
      actions.append(button('Revoke', b => revokeKey(k.keyid, b), 'danger'));
    }
    const row = el('tr', {},
      el('td', { dataset: { label: 'Key id' } }, el('code', { textContent: k.keyid }),
        k.keyid === mine ? el('span', { className: 'tag', textContent: 'this session' }) : null,
        k.rsa ? el('span', { className: 'tag', textContent: 'RSA' }) : null),
      el('td', { dataset: { label: 'Created' }, className: 'date', textContent: when(k.created) }),
      el('td', { dataset: { label: 'Status' }, className: `status-${k.status}`, textContent: status }),
      actions);
    row.dataset.keyid = k.keyid;
    return row;
  }));
}

function showFresh(what, key) {
  $('fresh-what').textContent = what;
  $('fresh-key').textContent = key;
  $('fresh').hidden = false;
  $('fresh-title').focus();
}

$('fresh-close').addEventListener('click', () => {
  $('fresh-key').textContent = '';
  $('fresh').hidden = true;
});

$('new-key').addEventListener('click', e => act(e.target.parentElement, async () => {
  const minted = await api(userPath(auth().account, 'key'), { method: 'POST', auth: auth() });
  await loadKeys();
  showFresh(`Key ${keyidOf(minted.auth.key)} was added to the account.`, minted.auth.key);
}));

function revokeKey(keyid, b) {
  const own = keyid === keyidOf(auth().key);
  if (!confirm(`Revoke key ${keyid}? Everything using it is refused at once.` +
    (own ? '\n\nThis is the key you signed in with: you will be signed out.' : '')))
    return;
  act(b.parentElement, async () => {
    await api(userPath(auth().account, 'key', keyid), { method: 'DELETE', auth: auth() });
    if (own) {
      signOut();
      tell(`Key ${keyid} was revoked, and you have been signed out.`);
    } else {
      await loadKeys();
      tell(`Key ${keyid} was revoked.`);
    }
  });
}

function rotateKey(keyid, b) {
  if (!confirm(`Rotate key ${keyid}? You get a replacement key; the old one keeps working for a grace period.`))
    return;
  act(b.parentElement, async () => {
    const minted = await api(userPath(auth().account, 'key', keyid, 'rotate'), { method: 'POST', auth: auth() });
    const key = minted.auth.key;
    let what = `Key ${keyid} was rotated: this is its replacement, ${keyidOf(key)}.`;
    if (minted.rotated?.expires) what += ` The old key works until ${when(minted.rotated.expires)}.`;
    if (keyid === keyidOf(auth().key)) {
      saveSession(auth().account, key);
      what += ' This tab now uses the new key.';
    }
    await loadKeys();
    showFresh(what, key);
  });
}

// ---- subdomains -------------------------------------------------------------

const domainPath = name => `/api/v1/domain/${encodeURIComponent(auth().account)}/${encodeURIComponent(name)}`;

function renderConfig() {
  if (!shownConfig) return;
  const config = structuredClone(shownConfig);
  const opts = config.io?.opts?.auth;
  if ($('config-with-key').checked && opts && 'key' in opts) opts.key = auth().key;
  $('config').textContent = JSON.stringify(config, null, 2);
}

function displayConfig(name, config) {
  shownConfig = config;
  $('config-with-key').checked = false;
  $('config-with-key').disabled = !config.io?.opts?.auth || !('key' in config.io.opts.auth);
  $('config-title').textContent = `Clone configuration for ${name}`;
  renderConfig();
  $('config-panel').hidden = false;
  $('config-title').focus();
}

$('config-with-key').addEventListener('change', renderConfig);

$('create-subdomain').addEventListener('submit', e => {
  e.preventDefault();
  const input = $('subdomain-name');
  const name = input.value.trim();
  if (!ACCOUNT_NAME.test(name))
    return fail(new Error('A subdomain name may use only lowercase letters, digits, - and _ (at most 63).'), input);
  act(e.target, async () => {
    // PUT is idempotent: an existing subdomain just answers its configuration
    const config = await api(domainPath(name), { method: 'PUT', auth: auth() });
    input.value = '';
    await refresh();
    displayConfig(name, config);
    tell(`Subdomain ${name} is ready.`);
  });
});

function showConfig(name, b) {
  act(b.parentElement, async () => {
    displayConfig(name, await api(domainPath(name), { method: 'PUT', auth: auth() }));
  });
}

function removeSubdomain(name, b) {
  if (!confirm(`Remove subdomain ${name} and all its data? The name can never be used again.`))
    return;
  act(b.parentElement, async () => {
    await api(domainPath(name), { method: 'DELETE', auth: auth() });
    if (shownConfig?.['@domain']?.startsWith(`${name}.`)) {
      shownConfig = null;
      $('config-panel').hidden = true;
    }
    await refresh();
    tell(`Subdomain ${name} was removed.`);
  });
}

// ---- settings and email -----------------------------------------------------

$('settings').addEventListener('submit', e => {
  e.preventDefault();
  const form = e.target;
  const checked = field => [...form.querySelectorAll(`input[name=${field}]`)].filter(b => b.checked).map(b => b.value);
  const shown = field => [...form.querySelectorAll(`input[name=${field}]`)].map(b => b.value);
  const patch = { '@insert': {}, '@delete': {} };
  for (const field of ['naming', 'remotesAuth']) {
    const want = checked(field), have = (current[field] ?? []).filter(v => shown(field).includes(v));
    const add = want.filter(v => !have.includes(v)), remove = have.filter(v => !want.includes(v));
    if (add.length) patch['@insert'][field] = add;
    if (remove.length) patch['@delete'][field] = remove;
  }
  if (!checked('remotesAuth').length)
    return fail(new Error('Choose at least one way for clones to authenticate.'));
  for (const side of ['@insert', '@delete'])
    if (!Object.keys(patch[side]).length) delete patch[side];
  if (!Object.keys(patch).length)
    return tell('Nothing to change.');
  act(form, async () => {
    await api(userPath(auth().account), { method: 'PATCH', body: patch, auth: auth() });
    await refresh();
    tell('Settings saved.');
  });
});

function removeEmail(address, b) {
  if (!confirm(`Remove ${address} from the account? You will not be able to get new keys by email with it.`))
    return;
  act(b.parentElement, async () => {
    await api(userPath(auth().account), { method: 'PATCH', body: { '@delete': { email: address } }, auth: auth() });
    await refresh();
    tell(`${address} was removed.`);
  });
}

// ---- deleting the account ---------------------------------------------------

$('delete-account').addEventListener('submit', e => {
  e.preventDefault();
  const account = auth().account;
  if ($('confirm-name').value.trim() !== account)
    return fail(new Error(`Type ${account} to confirm.`), $('confirm-name'));
  if (!confirm(`Delete account ${account}, its keys, subdomains and their data? This cannot be undone.`))
    return;
  act(e.target, async () => {
    await api(userPath(account), { method: 'DELETE', auth: auth() });
    $('confirm-name').value = '';
    signOut();
    tell(`Account ${account} was deleted.`);
  });
});

// ---- start ------------------------------------------------------------------

(async () => {
  const s = session();
  if (!s) return showSignin();
  try {
    await enter(await api(userPath(s.account), { auth: s }));
  } catch (err) {
    showSignin();
    fail(err);
  }
})();
