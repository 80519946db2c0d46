// The login landing page: the token is in the URL fragment (never sent to a server or a Referer),
// and is spent only by a POST when the user presses the button, so link scanners that prefetch
// the link cannot use it up.
import { api } from './api.js';

const token = location.hash.slice(1);
const status = document.getElementById('login-status');
if (token !== '') {
  history.replaceState(null, '', location.pathname);
  document.getElementById('with-link').hidden = false;
  document.getElementById('without-link').hidden = true;
  document.getElementById('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = document.getElementById('login-button');
    button.disabled = true;
    status.textContent = 'Logging in…';
    try {
      await api('POST', '/login', { token });
      location.assign('/');
    } catch (error) {
      status.textContent = error.message;
      document.getElementById('without-link').hidden = false;
    }
  });
}
