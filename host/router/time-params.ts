/**
 * Params that are times. A top-level param whose schema says `"format": "date-time"` may be given
 * as words ("tomorrow 9:00", "in 20 minutes"); the host turns them into an RFC 3339 timestamp in
 * UTC before the params are validated, so the plugin only ever receives a timestamp. When the
 * params schema also has a string param named `repeat`, a repeating phrase ("every weekday at 8")
 * fills `repeat` with a 5-field cron pattern (read in the user's time zone) and the time param
 * with its first occurrence.
 *
 * Problems name the param, never the words: they were typed by the user and may be anything.
 */
import { isDateTime } from '../core/date-time.js';
import { resolveRepeat, resolveTime, type TimeContext } from './times.js';

/** Which top-level params are times, and whether a `repeat` param sits beside them. */
interface TimeShape {
  readonly names: readonly string[];
  readonly repeat: boolean;
}

const noTimes: TimeShape = Object.freeze({ names: Object.freeze([]), repeat: false });
const shapes = new WeakMap<object, TimeShape>();

function acceptsString(property: Record<string, unknown>): boolean {
  const type = property['type'];
  return type === undefined || type === 'string' || (Array.isArray(type) && type.includes('string'));
}

function timeShape(schema: unknown): TimeShape {
  if (typeof schema !== 'object' || schema === null) return noTimes;
  let shape = shapes.get(schema);
  if (!shape) {
    const properties = (schema as { properties?: unknown }).properties;
    const names: string[] = [];
    let repeat = false;
    if (typeof properties === 'object' && properties !== null && !Array.isArray(properties)) {
      for (const [name, property] of Object.entries(properties as Record<string, unknown>)) {
        if (typeof property !== 'object' || property === null || name === '__proto__') continue;
        const fields = property as Record<string, unknown>;
        if (fields['format'] === 'date-time' && acceptsString(fields)) names.push(name);
        else if (name === 'repeat' && acceptsString(fields)) repeat = true;
      }
    }
    shape = names.length === 0 ? noTimes : Object.freeze({ names: Object.freeze(names), repeat });
    shapes.set(schema, shape);
  }
  return shape;
}

/** True when the params schema has a top-level date-time param (the caller's time zone matters). */
export function takesTimes(schema: unknown): boolean {
  return timeShape(schema).names.length > 0;
}

const catalogsWithTimes = new WeakMap<readonly { readonly spec: { readonly params?: unknown } }[], boolean>();

/** True when some capability of a catalog takes a time: only then does a front need the caller's time zone. */
export function catalogTakesTimes(catalog: readonly { readonly spec: { readonly params?: unknown } }[]): boolean {
  let answer = catalogsWithTimes.get(catalog);
  if (answer === undefined) {
    answer = catalog.some((capability) => takesTimes(capability.spec.params));
    catalogsWithTimes.set(catalog, answer);
  }
  return answer;
}

/** A copy of `params` where each time param written as words holds any timestamp, for a router's schema check. */
export function withTimePlaceholders(schema: unknown, params: Record<string, unknown>): Record<string, unknown> {
  const shape = timeShape(schema);
  let out: Record<string, unknown> | undefined;
  for (const name of shape.names) {
    const value = params[name];
    if (!Object.hasOwn(params, name) || typeof value !== 'string' || isDateTime(value)) continue;
    out ??= { ...params };
    out[name] = placeholderTime;
    if (shape.repeat && !Object.hasOwn(params, 'repeat')) out['repeat'] = placeholderRepeat;
  }
  return out ?? params;
}

/**
 * The params schema as a model sees it in a tool: each time param asks for the user's own words.
 * The model knows neither the date nor the user's time zone, so a timestamp it computed would
 * often be wrong; the host resolves the words instead.
 */
export function schemaForModel(schema: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const shape = timeShape(schema);
  if (shape.names.length === 0) return schema;
  const properties = { ...(schema['properties'] as Record<string, Record<string, unknown>>) };
  const repeats = shape.repeat ? ' For a repeating time put the words here too (e.g. "every weekday at 8") and leave repeat out.' : '';
  const hint = `A time: copy the user's own words, e.g. "tomorrow 9:00", "in 20 minutes" or "at 5pm"; the host turns them into a timestamp.${repeats}`;
  for (const name of shape.names) {
    const property: Record<string, unknown> = { ...properties[name] };
    delete property['format'];
    property['description'] = typeof property['description'] === 'string' ? `${property['description']} ${hint}` : hint;
    properties[name] = property;
  }
  return { ...schema, properties };
}

const placeholderTime = '2000-01-01T00:00:00Z';
const placeholderRepeat = '0 0 * * *';

export type TimeParamsOutcome = { readonly params: unknown } | { readonly problem: string };

/**
 * `params` with every time param written as words replaced by its timestamp (and `repeat`
 * filled for a repeating phrase), or the problem with the first one that is not understood.
 * Params that hold no words are returned as they are (the same object).
 */
export function resolveTimeParams(schema: unknown, params: unknown, context: TimeContext): TimeParamsOutcome {
  const shape = timeShape(schema);
  if (shape.names.length === 0 || typeof params !== 'object' || params === null || Array.isArray(params)) return { params };
  const given = params as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const name of shape.names) {
    const value = given[name];
    if (!Object.hasOwn(given, name) || typeof value !== 'string' || isDateTime(value)) continue;
    out ??= { ...given };
    const repeat = shape.repeat ? resolveRepeat(value, context) : undefined;
    if (repeat) {
      if (Object.hasOwn(out, 'repeat') && out['repeat'] !== undefined) {
        return { problem: `params/${name} is a repeating time, but params/repeat is already set; give one of them` };
      }
      out[name] = repeat.first;
      out['repeat'] = repeat.cron;
      continue;
    }
    const time = resolveTime(value, context);
    if (time) {
      out[name] = time.at;
      continue;
    }
    if (!shape.repeat && resolveRepeat(value, context)) {
      return { problem: `params/${name} is a repeating time, and this capability takes one time; try "tomorrow 9:00" or "in 20 minutes"` };
    }
    const repeats = shape.repeat ? ', or a repeat such as "every weekday at 8"' : '';
    return { problem: `params/${name} is not a time I understand; try "in 20 minutes", "tomorrow 9:00", "at 5pm"${repeats} or an ISO time such as 2030-01-31T09:00:00Z` };
  }
  return { params: out ?? params };
}
