// The "Your data" view: download everything (a plain link to GET /api/v1/export, which the host
// streams as an attachment), and ask for or cancel the deletion of your account.
import { api } from './api.js';
import { el } from './forms.js';

const $ = (id) => document.getElementById(id);

/** What the deletion request must carry (the API refuses anything else). */
const confirmation = 'delete my account';

const time = (iso) => el('time', { datetime: iso }, new Date(iso).toLocaleString());

/** The view; `open()` reads the session's freshness and the account's state. */
export function yourDataView({ showError, setStatus }) {
  const status = $('account-status');
  const form = $('deletion-form');
  const input = $('deletion-confirm');
  const cancel = $('deletion-cancel');
  let staleAt = 0;
  let staleTimer;

  /** The download link while the login is fresh; the way to a fresh login once it is not. */
  function showDownload(fresh) {
    $('export-fresh').hidden = !fresh;
    $('export-stale').hidden = fresh;
  }

  async function loadFreshness() {
    // The host counts the seconds on its own clock: this browser's clock may be off.
    const { freshLoginSeconds } = await api('GET', '/session');
    staleAt = Date.now() + freshLoginSeconds * 1000;
    clearTimeout(staleTimer);
    showDownload(freshLoginSeconds > 0);
    if (freshLoginSeconds > 0) staleTimer = setTimeout(() => showDownload(false), freshLoginSeconds * 1000);
  }

  async function loadAccount() {
    const account = await api('GET', '/account');
    $('account-since').replaceChildren(...(account.createdAt === null ? ['Nothing is recorded for your account yet.'] : ['Your account exists since ', time(account.createdAt), '.']));
    const { deletion } = account;
    $('deletion-pending').hidden = deletion === null;
    form.hidden = deletion !== null;
    if (deletion !== null) {
      $('deletion-due').replaceChildren(time(deletion.dueAt));
      $('deletion-due').setAttribute('data-due', deletion.dueAt);
    }
    const { graceDays } = account;
    const due = new Date(Date.now() + graceDays * 86_400_000);
    $('deletion-when').replaceChildren(
      ...(graceDays === 0
        ? ['at once, and cannot be cancelled']
        : [`after ${graceDays} days, on `, el('time', { datetime: due.toISOString() }, due.toLocaleDateString()), '; until then you can cancel it here']),
    );
  }

  $('export-link').addEventListener('click', (event) => {
    if (Date.now() < staleAt) return;
    event.preventDefault();
    showDownload(false);
  });

  input.addEventListener('input', () => input.setCustomValidity(''));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    input.setCustomValidity(input.value.trim() === confirmation ? '' : `Type "${confirmation}" to confirm.`);
    if (!form.reportValidity()) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const deletion = await api('POST', '/account/deletion', { confirm: confirmation });
      input.value = '';
      await loadAccount();
      setStatus(status, `Deletion requested: your account will be deleted on ${new Date(deletion.dueAt).toLocaleString()}.`);
    } catch (error) {
      showError(status, error);
    } finally {
      button.disabled = false;
    }
  });

  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      const { cancelled } = await api('DELETE', '/account/deletion');
      await loadAccount();
      setStatus(status, cancelled ? 'The deletion is cancelled: your account stays as it is.' : 'No deletion was pending.');
    } catch (error) {
      showError(status, error);
    } finally {
      cancel.disabled = false;
    }
  });

  return {
    async open() {
      setStatus(status, '');
      try {
        await Promise.all([loadFreshness(), loadAccount()]);
      } catch (error) {
        showError(status, error);
      }
    },
  };
}
