// A capability's outcome as plain elements: replies as paragraphs, records as a table, an object
// as a definition list. Whatever a plugin returned is text (textContent), never markup.
import { el } from './forms.js';

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const isRecords = (value) => Array.isArray(value) && value.length > 0 && value.every(isObject);

/** A value in a cell or a <dd>: strings as they are, times as <time>, anything nested as JSON text. */
function cell(key, value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && /At$/.test(key) && Number.isInteger(value) && value > 1e11) {
    const date = new Date(value);
    return el('time', { datetime: date.toISOString(), title: String(value) }, date.toLocaleString());
  }
  if (typeof value !== 'object') return String(value);
  return el('code', {}, jsonText(value));
}

/** JSON text; a list of plain values gets a space after each comma, so that it can wrap. */
function jsonText(value) {
  if (Array.isArray(value) && !value.some((item) => typeof item === 'object' && item !== null)) return `[${value.map((item) => JSON.stringify(item)).join(', ')}]`;
  return JSON.stringify(value);
}

function table(records, caption) {
  const columns = [];
  for (const record of records) for (const key of Object.keys(record)) if (!columns.includes(key)) columns.push(key);
  const head = el('tr', {}, ...columns.map((column) => el('th', { scope: 'col' }, column)));
  const rows = records.map((record) => el('tr', {}, ...columns.map((column) => el('td', {}, cell(column, record[column])))));
  const result = el('table', {}, el('caption', {}, `${caption} (${records.length})`), el('thead', {}, head), el('tbody', {}, ...rows));
  // Wide tables scroll on their own on narrow screens; focusable so the keyboard can scroll them.
  return el('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': caption }, result);
}

function definitions(object) {
  const list = el('dl');
  for (const [key, value] of Object.entries(object)) {
    list.append(el('dt', {}, key), el('dd', {}, isRecords(value) ? table(value, key) : isObject(value) ? definitions(value) : cell(key, value)));
  }
  return list;
}

/** The elements that show `{replies, result}`. */
export function renderOutcome(outcome) {
  const nodes = [];
  const replies = Array.isArray(outcome.replies) ? outcome.replies : [];
  if (replies.length > 0) nodes.push(el('div', { class: 'replies' }, ...replies.map((reply) => el('p', {}, String(reply)))));
  let { result } = outcome;
  let caption = 'Result';
  // {notes: [...]}: the one list is the result.
  if (isObject(result) && Object.keys(result).length === 1 && Array.isArray(Object.values(result)[0])) [[caption, result]] = Object.entries(result);
  if (isRecords(result)) nodes.push(table(result, caption));
  else if (Array.isArray(result)) nodes.push(result.length === 0 ? el('p', { class: 'empty' }, `${caption}: none.`) : el('ul', {}, ...result.map((item) => el('li', {}, cell('', item)))));
  else if (isObject(result)) nodes.push(definitions(result));
  else if (result !== null && result !== undefined) nodes.push(el('p', {}, cell('', result)));
  return nodes;
}
