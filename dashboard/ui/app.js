// The dashboard page: who you are, and four views (the address's #fragment picks one): a form
// for every capability you may call with your sessions, your activity, your data (download,
// deletion) and your vault. It talks to the host only through the API (api.js) and builds every
// element with text.
import { activityView } from './activity.js';
import { api } from './api.js';
import { capabilityForm, el, readParams, title } from './forms.js';
import { renderOutcome } from './results.js';
import { inlineUnlock, lockedEvent, vaultView } from './vault.js';
import { yourDataView } from './your-data.js';

const $ = (id) => document.getElementById(id);
const pageStatus = $('page-status');

/** The session is gone (never was, logged out elsewhere, expired): say so and how to get a link. */
function showSignedOut() {
  for (const id of ['user', 'views', ...sections]) $(id).hidden = true;
  $('signed-out').hidden = false;
  pageStatus.textContent = '';
}

/** Shows an API error in a status element: message, code and the plugin's detail when there is one. */
function showError(target, error) {
  if (error.status === 401) return showSignedOut();
  target.classList.add('error');
  target.replaceChildren(el('strong', {}, 'Error: '), error.message, error.code ? el('span', { class: 'code' }, ` (${error.code})`) : undefined);
  if (error.detail) target.append(el('span', { class: 'detail' }, error.detail));
}

function setStatus(target, text) {
  target.classList.remove('error');
  target.textContent = text;
}

/** The sections each view shows, by the fragment that opens it. */
const views = { plugins: ['plugins', 'notifications', 'sessions'], activity: ['activity'], 'your-data': ['your-data'], vault: ['vault'] };
const sections = ['plugins', 'notifications', 'sessions', 'activity', 'your-data', 'vault'];
const viewers = { activity: activityView({ showError, setStatus }), 'your-data': yourDataView({ showError, setStatus }), vault: vaultView({ showError, setStatus }) };

/** Shows the view the fragment names and loads what it shows. Other fragments (#main, from the skip link) leave the view as it is. */
function showView(atStart) {
  const name = location.hash.slice(1);
  const view = Object.hasOwn(views, name) ? name : atStart ? 'plugins' : undefined;
  if (view === undefined) return;
  for (const id of sections) $(id).hidden = !views[view].includes(id);
  for (const link of document.querySelectorAll('#views a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  viewers[view]?.open();
}

const time = (ms) => el('time', { datetime: new Date(ms).toISOString() }, new Date(ms).toLocaleString());

/**
 * The line above a result that holds sealed values (the call opened the vault): what it is, and a
 * button that clears it. The host sent it with Cache-Control: no-store; locking the vault clears it too.
 */
function sensitiveNote(result, output) {
  const hide = el('button', { type: 'button', class: 'secondary' }, 'Hide');
  hide.addEventListener('click', () => clearSensitive(result, output));
  return el('p', { class: 'sensitive-note' }, 'This holds secrets from your vault. It is shown only here and not kept by the browser. ', hide);
}

function clearSensitive(result, output) {
  output.replaceChildren();
  result.classList.remove('sensitive');
}

// Locking the vault takes its secrets off the page too.
document.addEventListener(lockedEvent, () => {
  for (const result of document.querySelectorAll('.result.sensitive')) clearSensitive(result, result.querySelector('.output'));
});

function capabilitySection(plugin, capability) {
  const key = `${plugin.name}.${capability.name}`;
  const headingId = `cap-${plugin.name}-${capability.name}`.replace(/[^a-z0-9-]/gi, '-');
  const form = capabilityForm(plugin.name, capability);
  const status = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const output = el('div', { class: 'output' });
  const result = el('div', { class: 'result', 'data-result-for': key, 'aria-busy': 'false' }, status, output);
  form.setAttribute('aria-labelledby', headingId);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const params = readParams(form);
    if (params === undefined) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    result.setAttribute('aria-busy', 'true');
    setStatus(status, 'Running…');
    result.classList.remove('sensitive');
    try {
      const outcome = await api('POST', `/invoke/${encodeURIComponent(plugin.name)}/${encodeURIComponent(capability.name)}`, { params });
      output.replaceChildren(...renderOutcome(outcome));
      // A secret typed into the form does not stay in it.
      for (const input of form.querySelectorAll('input[type=password]')) input.value = '';
      if (outcome.vault?.opened) {
        result.classList.add('sensitive');
        output.prepend(sensitiveNote(result, output));
      }
      if (outcome.vault?.locked) output.append(inlineUnlock({ showError, setStatus }));
      setStatus(status, 'Done.');
    } catch (error) {
      output.replaceChildren();
      showError(status, error);
      if (error.code === 'BH_VAULT_LOCKED') output.append(inlineUnlock({ showError, setStatus }));
    } finally {
      button.disabled = false;
      result.setAttribute('aria-busy', 'false');
    }
  });
  return el(
    'section',
    { class: 'capability', 'aria-labelledby': headingId },
    el(
      'div',
      { class: 'ask' },
      el('h3', { id: headingId }, title(capability.name)),
      capability.description ? el('p', { class: 'description' }, capability.description) : undefined,
      form,
    ),
    result,
  );
}

async function loadPlugins() {
  const { plugins } = await api('GET', '/plugins');
  const list = $('plugin-list');
  list.replaceChildren();
  if (plugins.length === 0) list.append(el('p', {}, 'None of your plugins has anything you can use from the dashboard.'));
  for (const plugin of plugins) {
    const headingId = `plugin-${plugin.name}`;
    list.append(
      el(
        'section',
        { class: 'plugin', 'aria-labelledby': headingId, 'data-plugin': plugin.name },
        el('h2', { id: headingId }, plugin.name, plugin.version ? el('span', { class: 'version' }, ` ${plugin.version}`) : undefined),
        plugin.description ? el('p', {}, plugin.description) : undefined,
        el('div', { class: 'capabilities' }, ...plugin.capabilities.map((capability) => capabilitySection(plugin, capability))),
      ),
    );
  }
}

/** What fired timers said (GET /api/v1/notifications), set as text. */
async function loadNotifications() {
  const { notifications } = await api('GET', '/notifications');
  const list = $('notification-list');
  list.replaceChildren(
    ...notifications.map((note) =>
      el('li', { 'data-plugin': note.plugin }, time(Date.parse(note.at)), ` ${note.plugin}${note.late ? ' (late)' : ''}: `, el('span', { class: 'text' }, note.text)),
    ),
  );
  if (notifications.length === 0) list.replaceChildren(el('li', { class: 'empty' }, 'Nothing yet.'));
}

async function loadSessions() {
  const { sessions } = await api('GET', '/sessions');
  const list = $('session-list');
  list.replaceChildren(
    ...sessions.map((session) => {
      const end = el('button', { type: 'button', class: 'secondary', 'data-session': session.id }, 'End');
      end.setAttribute('aria-label', `End the session logged in ${new Date(session.authTime).toLocaleString()}`);
      end.addEventListener('click', async () => {
        end.disabled = true;
        try {
          await api('DELETE', `/sessions/${encodeURIComponent(session.id)}`);
          if (session.current) return location.assign('/login');
          await loadSessions();
        } catch (error) {
          end.disabled = false;
          showError($('sessions-status'), error);
        }
      });
      return el(
        'li',
        { class: session.current ? 'current' : undefined },
        el('span', {}, 'Logged in ', time(session.authTime), ', last seen ', time(session.lastSeen), session.current ? el('strong', {}, ' (this browser)') : undefined),
        ' ',
        end,
      );
    }),
  );
}

/** Logout and logout everywhere: end the session(s), then the login page. */
function logoutButton(id, path) {
  $(id).addEventListener('click', async () => {
    try {
      await api('POST', path);
    } catch (error) {
      if (error.status !== 401) return showError(pageStatus, error);
    }
    location.assign('/login');
  });
}

async function start() {
  logoutButton('logout', '/logout');
  logoutButton('logout-everywhere', '/logout-everywhere');
  try {
    const who = await api('GET', '/session');
    $('identity').textContent = who.user.identity;
    $('user').hidden = false;
    $('views').hidden = false;
    window.addEventListener('hashchange', () => showView(false));
    showView(true);
    await Promise.all([loadPlugins(), loadSessions(), loadNotifications().catch((error) => showError($('notifications-status'), error))]);
    setStatus(pageStatus, '');
  } catch (error) {
    showError(pageStatus, error);
  }
}

start();
