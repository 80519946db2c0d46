// The Vault view: the state of your vault (GET /api/v1/vault), the unlock form, the lock button,
// and the set-up and change forms (both need a login from the last 5 minutes). Also the small
// unlock form shown beside a capability's result when the call met your locked vault.
// Passwords go into the JSON body of one request and are cleared from the form right after.
import { api } from './api.js';
import { el } from './forms.js';

const $ = (id) => document.getElementById(id);

/** Sent on `document` once the vault is locked: results that held sealed values are cleared. */
export const lockedEvent = 'bulkhead:vault-locked';

/** Empties every password field of a form (after a request, whatever its answer). */
function clearPasswords(form) {
  for (const input of form.querySelectorAll('input[type=password]')) {
    input.value = '';
    input.setCustomValidity('');
  }
}

/** The vault's state in a sentence. */
function stateText(status) {
  if (!status.setUp) return 'You have no vault yet. Set one up below to keep passwords and other secrets sealed.';
  const parts = [status.unlocked ? 'Your vault is unlocked: sealed fields can be read and written.' : 'Your vault is locked: sealed fields can be neither read nor written.'];
  if (status.changing) parts.push('A change of master password is unfinished: unlock with the new password to finish it.');
  if (status.retryAfterSeconds > 0) parts.push(`After wrong passwords, the next try must wait ${status.retryAfterSeconds} seconds.`);
  return parts.join(' ');
}

/** The view; `open()` reads the vault's state and the session's freshness. */
export function vaultView({ showError, setStatus }) {
  const status = $('vault-status');
  const unlockForm = $('vault-unlock-form');
  const setupForm = $('vault-setup-form');
  const changeForm = $('vault-change-form');
  const lockButton = $('vault-lock');
  let freshTimer;

  function show(vault) {
    $('vault-state').textContent = stateText(vault);
    $('vault-state').setAttribute('data-state', !vault.setUp ? 'none' : vault.unlocked ? 'unlocked' : 'locked');
    $('vault-setup').hidden = vault.setUp;
    unlockForm.hidden = !vault.setUp || vault.unlocked;
    lockButton.hidden = !vault.setUp || !vault.unlocked;
    $('vault-change').hidden = !vault.setUp;
    const { minChars, maxChars } = vault.passwordRules;
    for (const input of document.querySelectorAll('#vault input[autocomplete=new-password]')) {
      input.minLength = minChars;
      input.maxLength = maxChars;
    }
    $('vault-setup-help').textContent = `At least ${minChars} characters. A few unrelated words are easy to remember and hard to guess.`;
  }

  /** Set-up and change while the login is fresh; the way to a fresh login once it is not. */
  function showFresh(fresh) {
    setupForm.hidden = !fresh;
    changeForm.hidden = !fresh;
    for (const id of ['vault-setup-stale', 'vault-change-stale']) $(id).hidden = fresh;
  }

  async function load() {
    const [vault, session] = await Promise.all([api('GET', '/vault'), api('GET', '/session')]);
    show(vault);
    clearTimeout(freshTimer);
    showFresh(session.freshLoginSeconds > 0);
    if (session.freshLoginSeconds > 0) freshTimer = setTimeout(() => showFresh(false), session.freshLoginSeconds * 1000);
  }

  /** The confirmation field must repeat the new password (the host checks again). */
  function matching(form, name) {
    const confirmation = form.elements.confirmation;
    confirmation.setCustomValidity(confirmation.value === form.elements[name].value ? '' : 'The two passwords differ.');
  }

  /** Sends a form's passwords to one vault route, then clears them, whatever the answer. */
  function submitter(form, path, body, done) {
    form.addEventListener('input', () => {
      for (const input of form.querySelectorAll('input')) input.setCustomValidity('');
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (form.elements.confirmation) matching(form, 'password');
      if (!form.reportValidity()) return;
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const vault = await api('POST', path, body(form.elements));
        show(vault);
        setStatus(status, done);
      } catch (error) {
        showError(status, error);
      } finally {
        clearPasswords(form);
        button.disabled = false;
      }
    });
  }

  submitter(unlockForm, '/vault/unlock', (f) => ({ password: f.password.value }), 'Your vault is unlocked.');
  submitter(setupForm, '/vault/setup', (f) => ({ password: f.password.value, confirmation: f.confirmation.value }), 'Your vault is set up and unlocked.');
  submitter(
    changeForm,
    '/vault/change',
    (f) => ({ current: f.current.value, password: f.password.value, confirmation: f.confirmation.value }),
    'Your master password is changed: the old one opens nothing any more.',
  );

  lockButton.addEventListener('click', async () => {
    lockButton.disabled = true;
    try {
      show(await api('POST', '/vault/lock'));
      document.dispatchEvent(new Event(lockedEvent));
      setStatus(status, 'Your vault is locked.');
    } catch (error) {
      showError(status, error);
    } finally {
      lockButton.disabled = false;
    }
  });

  return {
    async open() {
      setStatus(status, '');
      try {
        await load();
      } catch (error) {
        showError(status, error);
      }
    },
  };
}

let inlineCount = 0;

/**
 * A small unlock form for a capability's result, when the call met the locked vault: the master
 * password and Unlock. The call is not run again by itself: it may have been a write.
 */
export function inlineUnlock({ showError, setStatus }) {
  const id = `vault-inline-${++inlineCount}`;
  const input = el('input', { type: 'password', id, name: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const status = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const form = el(
    'form',
    { class: 'vault-inline', novalidate: true, 'data-vault-unlock': 'inline' },
    el('p', {}, 'Some of this is sealed and your vault is locked. Unlock it, then run this again to see everything.'),
    el('div', { class: 'field' }, el('label', { for: id }, 'Master password'), input),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Unlock')),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await api('POST', '/vault/unlock', { password: input.value });
      for (const part of form.querySelectorAll('.field, .actions')) part.hidden = true;
      setStatus(status, 'Your vault is unlocked: run this again.');
    } catch (error) {
      showError(status, error);
    } finally {
      input.value = '';
      button.disabled = false;
    }
  });
  return form;
}
