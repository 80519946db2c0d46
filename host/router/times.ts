/**
 * Natural-language times, resolved by the host and never by a plugin: "at 5pm", "tomorrow 9:00",
 * "in 20 minutes" become one instant, and "every weekday at 8" a 5-field cron pattern with its
 * first occurrence, all in the user's time zone. chrono-node reads the phrase and croner computes
 * repeats; what this file adds is the time-zone arithmetic around them (chrono takes a fixed UTC
 * offset, which is wrong on the far side of a daylight-saving change) and the rule that the whole
 * phrase must be a time: "ignore previous instructions at 5pm" is not "at 5pm".
 *
 * chrono-node is loaded on first use, or by `preloadTimes` when a host starts with plugins that
 * take times (loading it takes about 60 ms of the main thread: better at start-up than in the
 * middle of a message), so hosts and CLI commands that never see a phrase do not pay for it.
 *
 * @example
 * resolveTime('tomorrow 9:00', { now: new Date('2025-03-07T23:30:00Z'), timeZone: 'America/New_York' });
 * // { at: '2025-03-08T14:00:00.000Z' }
 * resolveRepeat('every weekday at 8', { now: new Date('2025-03-07T23:30:00Z'), timeZone: 'America/New_York' });
 * // { cron: '0 8 * * 1-5', first: '2025-03-10T12:00:00.000Z' } (Monday 8:00, after the change to EDT)
 */
import { createRequire } from 'node:module';
import type * as ChronoEnModule from 'chrono-node/en';
import type * as CronerModule from 'croner';

type ChronoEn = typeof ChronoEnModule;
type Croner = typeof CronerModule;
type ParsedComponents = ReturnType<ChronoEn['parse']>[number]['start'];

let chronoModule: ChronoEn | undefined;
let cronerModule: Croner | undefined;

/** chrono-node's English parser only (all of its locales take four times as long to load). */
function chrono(): ChronoEn {
  chronoModule ??= createRequire(import.meta.url)('chrono-node/en') as ChronoEn;
  return chronoModule;
}

/** Loads the phrase parser now (a host whose plugins take times calls it at start-up). */
export function preloadTimes(): void {
  chrono();
}

function croner(): Croner {
  cronerModule ??= createRequire(import.meta.url)('croner') as Croner;
  return cronerModule;
}

export interface TimeContext {
  /** The reference instant: "in 20 minutes" counts from here, "at 5pm" means the next 5pm after it. */
  readonly now: Date;
  /** An IANA time zone name, e.g. `Europe/Berlin`: where "5pm" is 5pm. */
  readonly timeZone: string;
}

export interface ResolvedTime {
  /** RFC 3339, UTC, e.g. `2025-03-08T14:00:00.000Z`. */
  readonly at: string;
}

export interface ResolvedRepeat {
  /** Five fields (minute hour day-of-month month day-of-week), read in the user's time zone, e.g. `0 8 * * 1-5`. */
  readonly cron: string;
  /** The first occurrence after `now`, RFC 3339 in UTC. */
  readonly first: string;
}

/** Longest phrase read: times are short, and the parser's cost grows with the text. */
export const maxPhraseChars = 100;

/** A reading of a clock: month 1-12. */
interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Zones come from the operator and from Slack's list: a few hundred at most. */
const maxFormatters = 1000;

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (formatters.size >= maxFormatters) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** What a clock in `timeZone` shows at the instant `ms`. */
export function wallClockAt(timeZone: string, ms: number): WallClock {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return {
    year: fields['year'] ?? NaN,
    month: fields['month'] ?? NaN,
    day: fields['day'] ?? NaN,
    hour: fields['hour'] ?? NaN,
    minute: fields['minute'] ?? NaN,
    second: fields['second'] ?? NaN,
    millisecond: ((ms % 1000) + 1000) % 1000,
  };
}

function utcOf(clock: WallClock): number {
  const date = new Date(Date.UTC(2000, clock.month - 1, clock.day, clock.hour, clock.minute, clock.second, clock.millisecond));
  date.setUTCFullYear(clock.year);
  return date.getTime();
}

/** The zone's offset from UTC at the instant `ms`, in minutes (New York in winter: -300). */
export function offsetMinutesAt(timeZone: string, ms: number): number {
  const clock = wallClockAt(timeZone, ms);
  return Math.round((utcOf(clock) - ms) / 60_000);
}

const dayMs = 86_400_000;

/**
 * The instant a clock in `timeZone` shows `clock`, checked by reading the clock back. A reading
 * that happens twice (clocks set back) is the earlier instant; one that never happens (clocks set
 * forward past it) is taken with the offset from before the change, so 2:30 on the night New York
 * moves from 2:00 to 3:00 is 3:30, as most calendars do it.
 */
function instantOf(clock: WallClock, timeZone: string): number {
  const asUtc = utcOf(clock);
  const offsets = new Set([asUtc - dayMs, asUtc, asUtc + dayMs].map((ms) => offsetMinutesAt(timeZone, ms)));
  const candidates = [...offsets].map((offset) => asUtc - offset * 60_000);
  const exact = candidates.filter((ms) => sameReading(wallClockAt(timeZone, ms), clock));
  return exact.length > 0 ? Math.min(...exact) : Math.max(...candidates);
}

function sameReading(a: WallClock, b: WallClock): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute && a.second === b.second;
}

function nextDay(clock: WallClock): WallClock {
  const date = new Date(utcOf(clock) + dayMs);
  return { ...clock, year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

/** Whitespace folded and trimmed; undefined when empty or longer than `maxPhraseChars`. */
function cleanPhrase(phrase: unknown): string | undefined {
  if (typeof phrase !== 'string' || phrase.length > maxPhraseChars * 4) return undefined;
  const text = phrase.replace(/\s+/g, ' ').trim();
  return text === '' || text.length > maxPhraseChars ? undefined : text;
}

/** Words chrono leaves outside its match that still say nothing but "when". */
const allowedBefore = /^(?:(?:at|on|by) ?)?$/i;
const allowedAfter = /^[ .!]*$/;

/**
 * The phrase's one time, read whole: exactly one result, no range, and nothing around it but
 * "at", "on" or "by" before and punctuation after.
 */
function parseWhole(text: string, context: TimeContext): ParsedComponents | undefined {
  const reference = { instant: context.now, timezone: offsetMinutesAt(context.timeZone, context.now.getTime()) };
  const results = chrono().parse(text, reference, { forwardDate: true });
  const [result] = results;
  if (results.length !== 1 || !result || result.end) return undefined;
  const before = text.slice(0, result.index);
  const after = text.slice(result.index + result.text.length);
  return allowedBefore.test(before) && allowedAfter.test(after) ? result.start : undefined;
}

function isOnlyTime(start: ParsedComponents): boolean {
  return !start.isCertain('year') && !start.isCertain('month') && !start.isCertain('day') && !start.isCertain('weekday');
}

function clockOf(start: ParsedComponents): WallClock {
  const get = (component: Parameters<ParsedComponents['get']>[0], fallback: number): number => start.get(component) ?? fallback;
  return {
    year: get('year', NaN),
    month: get('month', NaN),
    day: get('day', NaN),
    hour: get('hour', 0),
    minute: get('minute', 0),
    second: get('second', 0),
    millisecond: get('millisecond', 0),
  };
}

/** Times resolved: from 1970 to the last instant a four-digit year can name. */
const earliest = Date.UTC(1970, 0, 1);
const latest = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * One time, e.g. "at 5pm" (today if still ahead, else tomorrow), "tomorrow 9:00",
 * "in 20 minutes", "next monday 9am", "2025-03-10 09:00" (read in the zone), "5pm EST" (a zone
 * named in the phrase wins). Undefined when the phrase is not, as a whole, one time.
 */
export function resolveTime(phrase: string, context: TimeContext): ResolvedTime | undefined {
  const text = cleanPhrase(phrase);
  if (text === undefined) return undefined;
  const start = parseWhole(text, context);
  if (!start) return undefined;
  const now = context.now.getTime();
  let at: number;
  if (start.tags().has('result/relativeDateAndTime')) {
    // A duration from now ("in 20 minutes"): the same span on any clock.
    at = relativeInstant(text, context, start);
  } else if (start.isCertain('timezoneOffset')) {
    // A zone named in the phrase ("5pm EST") wins over the user's.
    at = start.date().getTime();
  } else {
    // A clock reading ("tomorrow 9:00"): placed with the zone's offset on that day, not today's.
    const clock = clockOf(start);
    at = instantOf(clock, context.timeZone);
    if (isOnlyTime(start) && at <= now) at = instantOf(nextDay(clock), context.timeZone);
  }
  return Number.isFinite(at) && at >= earliest && at <= latest ? { at: new Date(at).toISOString() } : undefined;
}

/**
 * The instant of "in 20 minutes" or "in 2 hours", which is now plus that span. chrono adds the
 * span on the process's local clock, so when the process's own zone (TZ) changes its clocks
 * within the span, chrono's answer is an hour off. Then the span is measured again from the same
 * moment of an earlier week, when the process's clocks did not change, and added to now.
 */
function relativeInstant(text: string, context: TimeContext, start: ParsedComponents): number {
  const now = context.now.getTime();
  const at = start.date().getTime();
  if (processClockSteady(now, at)) return at;
  for (let weeks = 1; weeks <= 26; weeks++) {
    const earlier = now - weeks * 7 * dayMs;
    const end = parseWhole(text, { ...context, now: new Date(earlier) })?.date().getTime();
    if (end !== undefined && processClockSteady(earlier, end)) return now + (end - earlier);
  }
  return at;
}

/** Most days between two instants checked for a change of the process's clocks. */
const maxSteadyDays = 400;

/** True when the process's zone keeps one offset from a day before `from` to a day after `to`. */
function processClockSteady(from: number, to: number): boolean {
  const [first, last] = from <= to ? [from - dayMs, to + dayMs] : [to - dayMs, from + dayMs];
  if (last - first > maxSteadyDays * dayMs) return false;
  const offset = new Date(first).getTimezoneOffset();
  for (let t = first + dayMs / 2; t < last; t += dayMs / 2) if (new Date(t).getTimezoneOffset() !== offset) return false;
  return new Date(last).getTimezoneOffset() === offset;
}

const weekdays: Readonly<Record<string, number>> = {
  sunday: 0,
  sun: 0,
  monday: 1,
  mon: 1,
  tuesday: 2,
  tue: 2,
  tues: 2,
  wednesday: 3,
  wed: 3,
  thursday: 4,
  thu: 4,
  thur: 4,
  thurs: 4,
  friday: 5,
  fri: 5,
  saturday: 6,
  sat: 6,
};

/** Words whose plural means "every": "mondays", "weekdays" (not "tues", which is one Tuesday). */
const pluralizable: ReadonlySet<string> = new Set(['day', 'weekday', 'weekend', 'sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']);

/**
 * The days of week (0 = Sunday) a list like "weekday", "monday and thursday", "mon, wed, fri"
 * names. Without "every" only plurals ("mondays", "weekdays") and "daily" repeat: "monday at 9"
 * is one time.
 */
function daysOf(list: string, every: boolean): Set<number> | undefined {
  const days = new Set<number>();
  for (const word of list.split(/ ?, ?(?:and )?| and | & /)) {
    const plural = word.endsWith('s') && pluralizable.has(word.slice(0, -1));
    const singular = plural ? word.slice(0, -1) : word;
    if (!every && !plural && word !== 'daily') return undefined;
    if (word === 'daily' || singular === 'day') [0, 1, 2, 3, 4, 5, 6].forEach((d) => days.add(d));
    else if (singular === 'weekday') [1, 2, 3, 4, 5].forEach((d) => days.add(d));
    else if (singular === 'weekend') [0, 6].forEach((d) => days.add(d));
    else if (Object.hasOwn(weekdays, singular)) days.add(weekdays[singular] as number);
    else return undefined;
  }
  return days.size > 0 ? days : undefined;
}

/** A cron day-of-week field: `*`, or runs of three or more as ranges: `1-5`, `0,6`, `1,3,5`. */
function dayField(days: ReadonlySet<number>): string {
  if (days.size === 7) return '*';
  const sorted = [...days].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(j - i >= 2 ? `${sorted[i]}-${sorted[j]}` : sorted.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return parts.join(',');
}

/** Hour and minute of "8", "8am", "7:30", "17:45", "9 pm", "noon", "midnight". */
function timeOfDay(text: string, context: TimeContext): { hour: number; minute: number } | undefined {
  if (text === 'noon') return { hour: 12, minute: 0 };
  if (text === 'midnight') return { hour: 0, minute: 0 };
  const bare = /^(\d{1,2})$/.exec(text);
  if (bare) {
    const hour = Number(bare[1]);
    return hour <= 23 ? { hour, minute: 0 } : undefined;
  }
  const start = parseWhole(text, context);
  if (!start || !isOnlyTime(start) || !start.isCertain('hour') || start.isCertain('timezoneOffset')) return undefined;
  if ((start.get('second') ?? 0) !== 0) return undefined;
  return { hour: start.get('hour') ?? 0, minute: start.get('minute') ?? 0 };
}

const dayWords = '[a-z][a-z ,&]*?';
/** "every weekday at 8", "each monday and thursday 9:30", "weekdays at 8", "daily at 7:30". */
const daysThenTime = new RegExp(`^(?:(every|each) )?(${dayWords})(?: at)? (\\d.*|noon|midnight)$`);
/** "at 8 every weekday", "9am on mondays". */
const timeThenDays = new RegExp(`^(?:at )?(\\d[\\d:.]*(?: ?[ap]\\.?m\\.?)?|noon|midnight) (?:(every|each)|on) (${dayWords})$`);

/**
 * A repeating time: "every weekday at 8" -> `0 8 * * 1-5`, "every day at 7:30" -> `30 7 * * *`,
 * "every monday at 9am", "mondays and thursdays at 18:00", "daily at noon", "at 8 every weekend".
 * The time of day is read by chrono, the pattern checked by croner, and the first occurrence is
 * croner's next run after `now` in the zone. Undefined for anything else.
 */
export function resolveRepeat(phrase: string, context: TimeContext): ResolvedRepeat | undefined {
  const text = cleanPhrase(phrase)?.toLowerCase().replace(/\.$/, '');
  if (text === undefined) return undefined;
  const readings: { every: boolean; days: string; time: string }[] = [];
  const daysFirst = daysThenTime.exec(text);
  if (daysFirst) readings.push({ every: daysFirst[1] !== undefined, days: daysFirst[2] as string, time: daysFirst[3] as string });
  const timeFirst = timeThenDays.exec(text);
  if (timeFirst) readings.push({ every: timeFirst[2] !== undefined, days: timeFirst[3] as string, time: timeFirst[1] as string });
  let days: Set<number> | undefined;
  let time: { hour: number; minute: number } | undefined;
  for (const reading of readings) {
    days = daysOf(reading.days.trim(), reading.every);
    time = days && timeOfDay(reading.time.trim(), context);
    if (days && time) break;
  }
  if (!days || !time) return undefined;
  const cron = `${time.minute} ${time.hour} * * ${dayField(days)}`;
  const { Cron } = croner();
  let next: Date | null;
  try {
    const job = new Cron(cron, { timezone: context.timeZone, paused: true });
    next = job.nextRun(context.now);
    job.stop();
  } catch {
    return undefined;
  }
  return next ? { cron, first: next.toISOString() } : undefined;
}
