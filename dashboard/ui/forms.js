// Capability forms from a params JSON Schema, and params from a filled form. Everything a manifest
// says (names, descriptions, enum values) becomes text nodes and attributes, never markup. The
// host validates params again: the form only saves a round trip on mistakes it can see.

let fieldCount = 0;

/** `add` -> `Add`, `get-weather` -> `Get weather`. */
export function title(name) {
  const words = name.replace(/[-_:]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** An element with attributes (undefined ones skipped) and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

/** JSON Schema patterns are unanchored ECMAScript (u flag); HTML's pattern attribute is anchored and compiled with the v flag. */
function compile(pattern) {
  if (typeof pattern !== 'string') return undefined;
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const scalarTypes = ['string', 'integer', 'number'];

/** How a property is edited: 'enum', 'boolean', 'string', 'integer', 'number', 'list' (array of scalars) or 'json'. */
function kindOf(schema) {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return 'enum';
  if (['boolean', ...scalarTypes].includes(schema.type)) return schema.type;
  if (schema.type === 'array' && isObject(schema.items) && scalarTypes.includes(schema.items.type)) return 'list';
  return 'json';
}

/** A list field takes commas unless an item may hold one; then one item per line (a one-character test, bounded). */
function listSeparator(items) {
  const re = compile(items.pattern);
  return items.type === 'string' && !(re && !re.test(',')) ? '\n' : ',';
}

function helpText(schema, kind) {
  const parts = [];
  if (typeof schema.description === 'string') parts.push(schema.description);
  if (kind === 'list') parts.push(listSeparator(schema.items) === ',' ? 'Separate items with commas.' : 'One item per line.');
  if (kind === 'json') parts.push('JSON.');
  return parts.join(' ');
}

function control(name, schema, kind, required, id) {
  if (kind === 'boolean') return el('input', { type: 'checkbox', id, name });
  if (kind === 'enum') {
    const select = el('select', { id, name, required });
    if (!required) select.append(el('option', { value: '' }, '(none)'));
    schema.enum.forEach((value, index) => select.append(el('option', { value: String(index) }, typeof value === 'string' ? value : JSON.stringify(value))));
    return select;
  }
  if (kind === 'integer' || kind === 'number') {
    return el('input', { type: 'number', id, name, required, min: schema.minimum, max: schema.maximum, step: kind === 'integer' ? 1 : 'any', inputmode: kind === 'integer' ? 'numeric' : 'decimal' });
  }
  const multiline = kind === 'json' || (kind === 'list' && listSeparator(schema.items) === '\n') || (kind === 'string' && (schema.maxLength ?? 0) > 200);
  const attributes = { id, name, required, autocomplete: 'off', spellcheck: kind === 'string' ? undefined : 'false' };
  if (kind === 'string') Object.assign(attributes, { minlength: schema.minLength, maxlength: schema.maxLength });
  // A param its schema marks writeOnly (a password to keep) is typed unseen and never autofilled.
  if (kind === 'string' && schema.writeOnly === true) return el('input', { type: 'password', ...attributes, autocomplete: 'new-password' });
  return multiline ? el('textarea', { ...attributes, rows: kind === 'string' ? 3 : 4 }) : el('input', { type: 'text', ...attributes });
}

/** The form of one capability: `data-capability="plugin.capability"`, one field per property, named after it. */
export function capabilityForm(plugin, capability) {
  const schema = isObject(capability.params) ? capability.params : {};
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  // novalidate: readParams checks on submit (reportValidity), after the checks the browser lacks.
  const form = el('form', { 'data-capability': `${plugin}.${capability.name}`, novalidate: true });
  form.fields = [];
  for (const [name, raw] of Object.entries(properties)) {
    const property = isObject(raw) ? raw : {};
    const kind = kindOf(property);
    const id = `field-${++fieldCount}`;
    const input = control(name, property, kind, required.has(name), id);
    const help = helpText(property, kind);
    if (help !== '') input.setAttribute('aria-describedby', `${id}-help`);
    const label = el('label', { for: id }, name, required.has(name) ? el('span', { class: 'required' }, ' (required)') : undefined);
    const row = el('div', { class: kind === 'boolean' ? 'field check' : 'field' });
    row.append(...(kind === 'boolean' ? [input, label] : [label, input]));
    if (help !== '') row.append(el('p', { class: 'help', id: `${id}-help` }, help));
    form.append(row);
    const field = { name, property, kind, input };
    form.fields.push(field);
    input.addEventListener('input', () => check(field));
  }
  form.append(el('div', { class: 'actions' }, el('button', { type: 'submit' }, title(capability.name))));
  return form;
}

/** The value a field holds, or undefined when empty; throws a message when it cannot be read. */
function valueOf(field) {
  const { kind, input, property } = field;
  if (kind === 'boolean') return input.checked;
  const text = input.value;
  if (kind === 'enum') return text === '' ? undefined : property.enum[Number(text)];
  if (kind === 'string') return text === '' ? undefined : text;
  if (text.trim() === '') return undefined;
  if (kind === 'integer' || kind === 'number') return Number(text);
  if (kind === 'json') {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error('This is not valid JSON.');
    }
  }
  const items = text.split(listSeparator(property.items)).map((item) => item.trim()).filter((item) => item !== '');
  if (property.items.type === 'string') return items;
  return items.map((item) => {
    if (!Number.isFinite(Number(item))) throw new Error(`"${item}" is not a number.`);
    return Number(item);
  });
}

/**
 * Sets the field's custom validity for what the browser cannot check itself (lists, JSON).
 * Patterns are left to the host, which runs them in linear time: a manifest's pattern run by the
 * browser's backtracking engine over what the user typed could freeze the tab.
 */
function check(field) {
  let message = '';
  try {
    const value = valueOf(field);
    const values = value === undefined ? [] : field.kind === 'list' ? value : [value];
    if (field.kind === 'list' && typeof field.property.maxItems === 'number' && values.length > field.property.maxItems) message = `At most ${field.property.maxItems} items.`;
  } catch (error) {
    message = error.message;
  }
  field.input.setCustomValidity(message);
}

/** The params of a filled form (empty optional fields left out), or undefined after showing the browser's messages. */
export function readParams(form) {
  for (const field of form.fields) check(field);
  if (!form.reportValidity()) return undefined;
  const params = {};
  for (const field of form.fields) {
    const value = valueOf(field);
    if (value !== undefined) params[field.name] = value;
  }
  return params;
}
