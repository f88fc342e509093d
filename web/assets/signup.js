// Sign-up: account name and email → activation code by email → a new key,
// shown once.
import { api, busy, show, userPath, saveSession, ACCOUNT_NAME } from './common.js';

const $ = id => document.getElementById(id);
const error = $('error');
const request = $('request'), activate = $('activate'), done = $('done');
let pending = null; // {account, email, jwe}: in memory only

// Shown only once this script runs: without it a submit would post the form
request.hidden = false;

request.addEventListener('submit', e => {
  e.preventDefault();
  show(error, null);
  const account = $('account').value.trim();
  const email = $('email').value.trim();
  if (!ACCOUNT_NAME.test(account))
    return fail('The account name may use only lowercase letters, digits, - and _ (at most 63).', $('account'));
  if (!$('email').checkValidity() || !email)
    return fail('Please enter a valid email address.', $('email'));
  busy(request, async () => {
    try {
      const { jwe } = await api(userPath(account, 'activation'), { method: 'POST', body: { email } });
      pending = { account, email, jwe };
      $('sent-to').textContent = `We sent a six-digit code to ${email} for account ${account}.`;
      request.hidden = true;
      activate.hidden = false;
      $('code').value = '';
      $('code').focus();
    } catch (err) {
      fail(err.message);
    }
  });
});

activate.addEventListener('submit', e => {
  e.preventDefault();
  show(error, null);
  const code = $('code').value.replace(/\s+/g, '');
  if (!/^[0-9]{6}$/.test(code))
    return fail('The code is six digits.', $('code'));
  busy(activate, async () => {
    try {
      const minted = await api(userPath(pending.account, 'key'), {
        method: 'POST',
        headers: { Authorization: `Bearer ${pending.jwe}`, 'X-Activation-Code': code }
      });
      const key = minted.auth.key;
      pending.key = key;
      pending.jwe = null;
      $('done-account').textContent = pending.account;
      $('key').textContent = key;
      activate.hidden = true;
      done.hidden = false;
      $('done-title').focus();
    } catch (err) {
      // A refused code is about the code, not about account keys
      if (err.status === 401 && err.said)
        fail(`${err.said} ${/incorrect/i.test(err.said) ? 'Check the code in the email.' : 'Please start again.'}`, $('code'));
      else
        fail(err.message, $('code'));
    }
  });
});

$('restart').addEventListener('click', () => {
  pending = null;
  show(error, null);
  activate.hidden = true;
  request.hidden = false;
  $('account').focus();
});

$('use-key').addEventListener('click', () => {
  saveSession(pending.account, pending.key);
  location.assign('/account');
});

function fail(message, field) {
  show(error, message);
  if (field) field.focus();
}
