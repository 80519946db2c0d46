/**
 * The console's private form: `secret <plugin> [<capability>]` asks for the params of a
 * capability marked `"secret": true` (passwords.add), one per line, and calls it. No router offers
 * such a capability, so chat text (which the console echoes and a router reads) never carries a
 * secret to it. A param its schema marks `writeOnly` (the password) is read like a master
 * password: echo off at a terminal (host/fronts/line-input.ts). Nothing typed is printed or logged.
 */
import { BulkheadError } from '../core/errors.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { CallOutcome } from '../executor/executor.js';
import type { CallerContext } from '../identity/caller-context.js';
import type { LineInput } from './line-input.js';

/** The line that `help` prints about it. */
export const secretCommandHelp = 'Secrets for a plugin (a password to keep): `secret <plugin>` asks for each field on its own line, passwords unseen.';

/** `secret <plugin> [<capability>]`: the names, or undefined when the line is not this command. */
export function secretCommandOf(line: string): { plugin?: string; capability?: string } | undefined {
  const words = line.trim().split(/\s+/u);
  if (words[0]?.toLowerCase() !== 'secret') return undefined;
  return { ...(words[1] ? { plugin: words[1].toLowerCase() } : {}), ...(words[2] ? { capability: words[2] } : {}) };
}

interface Field {
  readonly name: string;
  readonly required: boolean;
  readonly hidden: boolean;
  readonly description: string | undefined;
}

/** Runs the form; prints the replies (never the typed values) and returns the outcome, if it ran. */
export async function runSecretCommand(
  dispatcher: Pick<Dispatcher, 'catalog' | 'invoke'>,
  caller: CallerContext,
  command: { plugin?: string; capability?: string },
  input: LineInput,
  out: (line: string) => void,
): Promise<CallOutcome | undefined> {
  const forms = dispatcher.catalog(caller).filter((c) => c.spec.secret === true);
  const offered = [...new Set(forms.map((c) => c.plugin))].join(', ') || 'none';
  if (!command.plugin) return void out(`Name the plugin: \`secret <plugin>\` (plugins with a form for secrets: ${offered}).`);
  const candidates = forms.filter((c) => c.plugin === command.plugin && (command.capability === undefined || c.spec.name === command.capability));
  const capability = candidates[0];
  if (!capability) return void out(`That plugin has no form for secrets here (plugins with one: ${offered}). Nothing was asked or sent.`);
  const schema = (capability.spec.params ?? {}) as { properties?: Record<string, { type?: unknown; writeOnly?: unknown; description?: unknown }>; required?: unknown };
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const fields: Field[] = Object.entries(schema.properties ?? {})
    .filter(([, property]) => property.type === 'string')
    .map(([name, property]) => ({ name, required: required.has(name), hidden: property.writeOnly === true, description: typeof property.description === 'string' ? property.description : undefined }));
  out(`${capability.plugin}.${capability.spec.name}: one line per field${fields.some((f) => !f.required) ? ' (an empty line skips an optional one)' : ''}; an empty required field cancels.`);
  const params: Record<string, string> = {};
  for (const field of fields) {
    const prompt = `${field.name}${field.required ? '' : ' (optional)'}${field.description ? ` – ${field.description}` : ''}: `;
    const value = field.hidden ? await input.secret(prompt) : await input.line(prompt);
    if (value === undefined || (value === '' && field.required)) return void out('Cancelled: nothing was sent.');
    if (value !== '') params[field.name] = value;
  }
  try {
    const outcome = await dispatcher.invoke(caller, capability.plugin, capability.spec.name, params);
    for (const reply of outcome.replies) out(reply);
    if (outcome.replies.length === 0) out(`Done (${capability.plugin} ${capability.spec.name}).`);
    return outcome;
  } catch (error) {
    if (!(error instanceof BulkheadError)) throw error;
    out(`error ${error.code}: ${error.message}`);
    return undefined;
  }
}
