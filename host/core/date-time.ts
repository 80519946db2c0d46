/**
 * The one check of RFC 3339 timestamps: what `"format": "date-time"` in a params schema accepts
 * (host/plugins/catalog.ts), and what the host leaves alone when it turns times written as words
 * into timestamps (host/router/time-params.ts); and the one check of time zone names.
 */

/**
 * RFC 3339 `date-time`, as JSON Schema's `format` means it: a date, `T` (or a space), a time with
 * seconds and an optional fraction, and `Z` or an offset; every field in range (leap seconds, :60,
 * are refused: few plugins could parse them).
 */
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

export function isDateTime(value: string): boolean {
  const match = rfc3339.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = match.slice(1).map((part) => Number(part ?? 0));
  if (month === undefined || month < 1 || month > 12) return false;
  const daysInMonth = month === 2 ? (isLeapYear(year ?? 0) ? 29 : 28) : new Date(Date.UTC(2001, month, 0)).getUTCDate();
  const within = (n: number | undefined, max: number): boolean => n !== undefined && n <= max;
  return (day ?? 0) >= 1 && within(day, daysInMonth) && within(hour, 23) && within(minute, 59) && within(second, 59) && within(offsetHours, 23) && within(offsetMinutes, 59);
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * `name` when Intl knows it as a time zone (IANA names such as `Europe/Berlin`, in any case, and
 * `UTC`), else undefined. Kept as written: Intl's canonical form may be an older alias
 * (`Asia/Kolkata` comes back as `Asia/Calcutta`). This is the check for BULKHEAD_DEFAULT_TZ and
 * for the zone Slack reports for a user.
 */
export function validTimeZone(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '' || name.length > 64) return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return name;
  } catch {
    return undefined;
  }
}
