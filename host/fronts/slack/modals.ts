/**
 * The Slack front's private forms, as Block Kit: the vault's modals (set up, unlock, change of the
 * master password), the form of a capability marked `"secret": true` (`/bulkhead secret <plugin>`),
 * the Unlock button, and reading what a submission holds.
 *
 * Slack has no masked text input: every password box here is a plain_text_input, and its hint
 * says that what is typed shows on the screen and goes only to Bulkhead. A modal's values arrive
 * in a signed view_submission that only the submitting user's client sends; they are handed to the
 * vault or the dispatcher and never logged, stored by the front or echoed back.
 */
import type { types } from '@slack/bolt';
import type { Capability } from '../../plugins/catalog.js';
import { pluginNamePattern } from '../../manifest/manifest.js';
import { masterPasswordRules } from '../../vault/vault-service.js';

type View = types.View;
type KnownBlock = types.KnownBlock;

/** The callback ids of the modals: Bolt routes a submission to its handler by these. */
export const callbackIds = Object.freeze({
  setup: 'bulkhead_vault_setup',
  unlock: 'bulkhead_vault_unlock',
  change: 'bulkhead_vault_change',
  secret: 'bulkhead_secret',
});

export type VaultForm = 'setup' | 'unlock' | 'change';

/** The action of the Unlock button (and of "Set up", for a user without a vault). */
export const unlockActionId = 'bulkhead_vault_unlock';

/** Block ids of the vault modals' inputs; each input's action id is `valueActionId`. */
export const vaultBlocks = Object.freeze({
  /** The master password: the one to unlock with, the first one of a set-up, the new one of a change. */
  password: 'vault_password',
  confirmation: 'vault_confirmation',
  /** The current master password, in a change. */
  current: 'vault_current',
});

export const valueActionId = 'value';

/** Most inputs a secret form shows; a capability that needs more is refused (Slack allows 100 blocks). */
export const maxFormFields = 20;
/** Slack's limits on a plain_text_input's value, a label and a hint. */
const slackInputMaxChars = 3000;
const labelMaxChars = 200;
const hintMaxChars = 500;
const sectionMaxChars = 3000;

const slackHasNoPasswordBox =
  'Slack has no hidden password box: what you type shows on your screen while you type it. It goes only to Bulkhead, never to a channel or a log.';

/** What a modal carries through Slack (private_metadata): where it was opened, and for a secret form what it calls. */
export interface ModalContext {
  /** The conversation the modal was opened from: where the answer is shown, to the caller alone. */
  readonly channel?: string;
  readonly plugin?: string;
  readonly capability?: string;
}

export function encodeContext(context: ModalContext): string {
  return JSON.stringify({ c: context.channel, p: context.plugin, k: context.capability });
}

/** The context back from private_metadata; anything that does not have its expected shape is left out. */
export function decodeContext(text: string): ModalContext {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return {};
  }
  if (data === null || typeof data !== 'object') return {};
  const { c, p, k } = data as Record<string, unknown>;
  return {
    ...(typeof c === 'string' && /^[CDG][A-Z0-9]{2,30}$/.test(c) ? { channel: c } : {}),
    ...(typeof p === 'string' && pluginNamePattern.test(p) ? { plugin: p } : {}),
    ...(typeof k === 'string' && /^(?:admin:)?[a-z][a-zA-Z0-9_-]{0,62}$/.test(k) ? { capability: k } : {}),
  };
}

function plain(text: string): types.PlainTextElement {
  return { type: 'plain_text', text };
}

function section(text: string): KnownBlock {
  return { type: 'section', text: plain(clip(text, sectionMaxChars)) };
}

function passwordInput(blockId: string, label: string, hint?: string): KnownBlock {
  return {
    type: 'input',
    block_id: blockId,
    label: plain(label),
    ...(hint ? { hint: plain(hint) } : {}),
    element: { type: 'plain_text_input', action_id: valueActionId, min_length: masterPasswordRules.minChars, max_length: masterPasswordRules.maxChars },
  };
}

const forgottenIsLost =
  'If you forget your master password, everything sealed in your vault is lost: it cannot be recovered by anyone, not by you, not by the operator of this Bulkhead, not by Slack. Bulkhead does not keep the password, only a check of it. Write it down somewhere safe.';

/** The set-up modal: the master password twice, after the warning that a forgotten one cannot be recovered. */
export function setupModal(context: ModalContext): View {
  return {
    type: 'modal',
    callback_id: callbackIds.setup,
    private_metadata: encodeContext(context),
    title: plain('Set up your vault'),
    submit: plain('Set up'),
    close: plain('Cancel'),
    blocks: [
      section('Your vault seals the passwords and other secrets plugins keep for you, with a key made from a master password only you know.'),
      section(`⚠️ ${forgottenIsLost}`),
      passwordInput(vaultBlocks.password, 'Master password', `${masterPasswordRules.minChars} to ${masterPasswordRules.maxChars} characters. ${slackHasNoPasswordBox}`),
      passwordInput(vaultBlocks.confirmation, 'The same master password again'),
    ],
  };
}

export function unlockModal(context: ModalContext): View {
  return {
    type: 'modal',
    callback_id: callbackIds.unlock,
    private_metadata: encodeContext(context),
    title: plain('Unlock your vault'),
    submit: plain('Unlock'),
    close: plain('Cancel'),
    blocks: [
      section('Unlocking lets plugins read and write the secrets sealed in your vault, until it locks itself after a while without activity, or you lock it (`/bulkhead vault lock`).'),
      {
        type: 'input',
        block_id: vaultBlocks.password,
        label: plain('Master password'),
        hint: plain(slackHasNoPasswordBox),
        // No length rule here: a wrong password of any length is simply wrong.
        element: { type: 'plain_text_input', action_id: valueActionId, max_length: masterPasswordRules.maxChars },
      },
    ],
  };
}

export function changeModal(context: ModalContext): View {
  return {
    type: 'modal',
    callback_id: callbackIds.change,
    private_metadata: encodeContext(context),
    title: plain('Change master password'),
    submit: plain('Change'),
    close: plain('Cancel'),
    blocks: [
      section('Everything sealed in your vault is sealed again under the new password; the old one then opens nothing.'),
      section(`⚠️ ${forgottenIsLost}`),
      {
        type: 'input',
        block_id: vaultBlocks.current,
        label: plain('Current master password'),
        hint: plain(slackHasNoPasswordBox),
        element: { type: 'plain_text_input', action_id: valueActionId, max_length: masterPasswordRules.maxChars },
      },
      passwordInput(vaultBlocks.password, 'New master password', `${masterPasswordRules.minChars} to ${masterPasswordRules.maxChars} characters.`),
      passwordInput(vaultBlocks.confirmation, 'The new master password again'),
    ],
  };
}

export function vaultModal(form: VaultForm, context: ModalContext): View {
  return form === 'setup' ? setupModal(context) : form === 'unlock' ? unlockModal(context) : changeModal(context);
}

/** A modal that only says something (a slow answer, or its result): no inputs, no submit. */
export function noticeModal(title: string, text: string): View {
  return { type: 'modal', title: plain(clip(title, 24)), close: plain('Close'), blocks: [section(text)] };
}

/** One input of a secret form: a string param of the capability. */
export interface FormField {
  readonly name: string;
  readonly blockId: string;
  readonly required: boolean;
  readonly label: string;
  readonly hint?: string;
  readonly minLength?: number;
  readonly maxLength: number;
}

/** Param names a form can show (they become block ids). */
const fieldName = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

/**
 * The inputs of a capability's form: one per string param of its params schema. A string when the
 * schema cannot be filled in with text boxes (a required param that is not a string, or too many).
 */
export function formFields(capability: Capability): FormField[] | string {
  const schema = (capability.spec.params ?? {}) as Record<string, unknown>;
  const properties = isObject(schema['properties']) ? schema['properties'] : {};
  const required = new Set(Array.isArray(schema['required']) ? schema['required'].filter((name): name is string => typeof name === 'string') : []);
  const fields: FormField[] = [];
  for (const [name, property] of Object.entries(properties)) {
    if (!isObject(property) || property['type'] !== 'string' || !fieldName.test(name)) continue;
    const description = typeof property['description'] === 'string' ? property['description'].trim() : '';
    const title = typeof property['title'] === 'string' && property['title'].trim() !== '' ? property['title'].trim() : name;
    const minLength = typeof property['minLength'] === 'number' && property['minLength'] >= 1 ? Math.min(property['minLength'], slackInputMaxChars) : undefined;
    const maxLength = typeof property['maxLength'] === 'number' && property['maxLength'] >= 1 ? Math.min(property['maxLength'], slackInputMaxChars) : slackInputMaxChars;
    fields.push({
      name,
      blockId: `param_${name}`,
      required: required.has(name),
      label: clip(title, labelMaxChars),
      ...(description ? { hint: clip(description, hintMaxChars) } : {}),
      ...(minLength !== undefined ? { minLength } : {}),
      maxLength,
    });
  }
  const where = `${capability.plugin}.${capability.spec.name}`;
  const missing = [...required].filter((name) => !fields.some((field) => field.name === name));
  if (missing.length > 0) return `${where} needs params that are not text, so it cannot be filled in a Slack form. Use the dashboard or \`npx bulkhead console\`.`;
  if (fields.length === 0) return `${where} takes no text to fill in, so it has no form.`;
  if (fields.length > maxFormFields) return `${where} has more than ${maxFormFields} params, too many for a Slack form. Use the dashboard or \`npx bulkhead console\`.`;
  return fields;
}

/** The form of a capability marked secret. The plugin's texts (description, labels) are plain text: Slack formats none of them. */
export function secretModal(capability: Capability, fields: readonly FormField[], context: ModalContext): View {
  return {
    type: 'modal',
    callback_id: callbackIds.secret,
    private_metadata: encodeContext({ ...context, plugin: capability.plugin, capability: capability.spec.name }),
    title: plain('Private form'),
    submit: plain('Send'),
    close: plain('Cancel'),
    blocks: [
      section(`${capability.plugin} ${capability.spec.name}: ${capability.spec.description}`),
      { type: 'context', elements: [plain(slackHasNoPasswordBox)] },
      ...fields.map(
        (field): KnownBlock => ({
          type: 'input',
          block_id: field.blockId,
          optional: !field.required,
          label: plain(field.label),
          ...(field.hint ? { hint: plain(field.hint) } : {}),
          element: {
            type: 'plain_text_input',
            action_id: valueActionId,
            max_length: field.maxLength,
            ...(field.minLength !== undefined ? { min_length: field.minLength } : {}),
            ...(field.maxLength > 500 ? { multiline: true } : {}),
          },
        }),
      ),
    ],
  };
}

/** The submitted value of one input; '' when it was left empty. */
export function submittedValue(view: { state: { values: Record<string, Record<string, { value?: string | null }>> } }, blockId: string): string {
  const value = view.state.values[blockId]?.[valueActionId]?.value;
  return typeof value === 'string' ? value : '';
}

/** What a call that needed the locked vault (or a user without one) is answered with: a text and the button that opens the modal. */
export function unlockPrompt(setUp: boolean): { text: string; blocks: KnownBlock[] } {
  const text = setUp
    ? 'That needed your vault, and it is locked. Unlock it, then ask again.'
    : 'That needed a vault, and you have none yet. Set one up with a master password, then ask again.';
  return {
    text,
    blocks: [
      section(text),
      { type: 'actions', elements: [{ type: 'button', action_id: unlockActionId, style: 'primary', text: plain(setUp ? 'Unlock' : 'Set up a vault') }] },
    ],
  };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
