/** Repeats of timers: 5-field cron expressions, evaluated by croner in the user's time zone. */
import { Cron } from 'croner';

/** The next time after `after` (ms) that a 5-field cron expression names in the zone; undefined if none. */
export function nextOccurrence(repeat: string, timeZone: string, after: number): number | undefined {
  const next = new Cron(repeat, { timezone: timeZone, paused: true }).nextRun(new Date(after));
  return next ? next.getTime() : undefined;
}

/** Whether a repeat is a valid 5-field cron expression (croner's own check, no seconds field). */
export function validRepeat(repeat: string): boolean {
  if (repeat.length > 100 || repeat.trim().split(/\s+/).length !== 5) return false;
  try {
    new Cron(repeat, { paused: true });
    return true;
  } catch {
    return false;
  }
}
