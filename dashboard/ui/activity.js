// The Activity view: your audit log (GET /api/v1/activity), newest first, with filters and an
// "Older" button that follows the page cursor. Lines name what happened, never a value; they are
// still set as text, like everything else.
import { api } from './api.js';
import { el } from './forms.js';

const $ = (id) => document.getElementById(id);

/** A date input's 'YYYY-MM-DD' as the start of that local day, plus `days` days. */
function localDay(text, days) {
  const [year, month, day] = text.split('-').map(Number);
  return new Date(year, month - 1, day + days);
}

/** The query of the filter form, empty fields left out. "To day" includes that whole day. */
function filterQuery(form) {
  const fields = form.elements;
  const query = new URLSearchParams();
  const plugin = fields.plugin.value.trim();
  if (plugin !== '') query.set('plugin', plugin);
  for (const name of ['front', 'outcome']) if (fields[name].value !== '') query.set(name, fields[name].value);
  if (fields.from.value !== '') query.set('from', localDay(fields.from.value, 0).toISOString());
  if (fields.to.value !== '') query.set('to', localDay(fields.to.value, 1).toISOString());
  return query;
}

const columns = [
  ['Time', (line) => el('time', { datetime: line.at }, new Date(line.at).toLocaleString())],
  ['Front', (line) => line.front],
  ['Plugin', (line) => line.plugin ?? ''],
  ['Capability / op', (line) => [line.capability, line.op].filter((part) => part !== undefined).join(' · ')],
  ['Collection', (line) => line.collection ?? ''],
  ['Rows', (line) => (line.rows === undefined ? '' : String(line.rows))],
  ['Outcome', (line) => line.outcome],
  ['Code', (line) => line.code ?? ''],
];

function row(line) {
  return el('tr', { 'data-seq': line.seq, 'data-kind': line.kind, class: line.outcome === 'ok' ? undefined : 'failed' }, ...columns.map(([, value]) => el('td', {}, value(line))));
}

/** The view; `open()` loads the newest page with the filters as they are. */
export function activityView({ showError, setStatus }) {
  const form = $('activity-filters');
  const status = $('activity-status');
  const holder = $('activity-lines');
  const older = $('activity-older');
  let query = new URLSearchParams();
  let next;
  let rows;

  async function load(more) {
    const page = new URLSearchParams(query);
    if (more) page.set('before', String(next));
    for (const button of [older, form.querySelector('button[type=submit]')]) button.disabled = true;
    holder.setAttribute('aria-busy', 'true');
    setStatus(status, 'Loading…');
    try {
      const { lines, next: after } = await api('GET', `/activity?${page}`);
      if (!more) {
        rows = el('tbody');
        const head = el('tr', {}, ...columns.map(([name]) => el('th', { scope: 'col' }, name)));
        const table = el('table', {}, el('caption', {}, 'Your activity, newest first'), el('thead', {}, head), rows);
        holder.replaceChildren(lines.length === 0 ? el('p', { class: 'empty' }, query.toString() === '' ? 'Nothing recorded yet.' : 'Nothing matches these filters.') : el('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Your activity' }, table));
      }
      rows.append(...lines.map(row));
      next = after;
      older.hidden = next === undefined;
      setStatus(status, lines.length === 0 ? '' : `${rows.children.length} lines shown${next === undefined ? '' : '; older ones with "Older"'}.`);
    } catch (error) {
      showError(status, error);
    } finally {
      for (const button of [older, form.querySelector('button[type=submit]')]) button.disabled = false;
      holder.setAttribute('aria-busy', 'false');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    query = filterQuery(form);
    void load(false);
  });
  older.addEventListener('click', () => void load(true));
  return { open: () => load(false) };
}
