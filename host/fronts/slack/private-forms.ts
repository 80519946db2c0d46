/**
 * The Slack front's private forms: `/bulkhead vault` (set up, unlock, lock, change the master
 * password), `/bulkhead secret <plugin> [<capability>]` (the params of a capability marked
 * `"secret": true`), and the Unlock button shown with a call that needed a locked vault.
 *
 * A form's values go from the signed view_submission straight to the vault or the dispatcher, as
 * the Slack user who submitted it (resolved like every other payload, from the ids Slack signed).
 * They are never logged (only which form, and the error code when it was refused), never kept by
 * the front, and never echoed: an error names what to fix, not what was typed. Answers go to the
 * submitter alone (an ephemeral message).
 *
 * Slack waits 3 seconds for the answer to a submission. Deriving a key from a master password
 * takes up to a second, and a change of password re-seals every sealed value: when the answer is
 * not ready after `answerWithinMs`, the modal says it is working, and is updated with the outcome.
 */
import type { AllMiddlewareArgs, App, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { BulkheadError, type ErrorCode } from '../../core/errors.js';
import type { Dispatcher } from '../../dispatch/dispatcher.js';
import type { CallerContext } from '../../identity/caller-context.js';
import type { Logger } from '../../log/index.js';
import { pluginNamePattern } from '../../manifest/manifest.js';
import type { Capability } from '../../plugins/catalog.js';
import type { VaultService } from '../../vault/vault-service.js';
import { errorSentence } from '../chat.js';
import { postEphemeral, type EphemeralMessage } from './ephemeral.js';
import { escapeSlackText } from './escape.js';
import {
  callbackIds,
  changeModal,
  decodeContext,
  formFields,
  noticeModal,
  secretModal,
  setupModal,
  submittedValue,
  unlockActionId,
  unlockModal,
  unlockPrompt,
  vaultBlocks,
  type FormField,
  type ModalContext,
  type VaultForm,
} from './modals.js';
import { teamOf, type SlackUser } from './slack-user.js';

/** How long a submission waits for its answer before the modal says it is working (Slack gives up at 3 s). */
export const answerWithinMs = 2500;

export type SlackVault = Pick<VaultService, 'status' | 'setup' | 'unlock' | 'lock' | 'change'>;

export interface PrivateFormsOptions {
  readonly vault: SlackVault;
  readonly dispatcher: Pick<Dispatcher, 'catalog' | 'invoke'>;
  readonly logger: Logger;
  /** The user behind the ids Slack signed (undefined when refused). */
  readonly user: (teamId: unknown, userId: unknown) => SlackUser | undefined;
  /** The caller context of a user, as the front's other handlers make it (admin flag; no time zone). */
  readonly callerOf: (user: SlackUser, replyTo: string) => CallerContext;
  /** The same with the user's time zone from Slack, for a plugin call. */
  readonly caller: (user: SlackUser, replyTo: string, client: App['client']) => Promise<CallerContext>;
  /** For tests: see `answerWithinMs`. */
  readonly answerWithinMs?: number;
}

/** How the answer to a slash command is sent (Bolt's `respond`, ephemeral). */
export type CommandReply = (message: EphemeralMessage) => Promise<void>;

/** Where a form was asked for: the user, the trigger that may open a modal, the conversation. */
export interface FormRequest {
  readonly user: SlackUser;
  readonly triggerId: string;
  readonly channel: string | undefined;
  readonly client: App['client'];
  readonly reply: CommandReply;
}

/** What a submission comes to. */
type FormAnswer =
  /** Shown on the inputs (block id -> text): the modal stays open with what was typed. */
  | { readonly errors: Readonly<Record<string, string>> }
  /** Replaces the modal: nothing to fix there. */
  | { readonly notice: string }
  /** Closes the modal; the texts go to the submitter alone. */
  | { readonly done: readonly string[] };

type Submission = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;
type SubmittedView = Submission['view'];

const usage =
  'Private forms: `/bulkhead vault` sets up or unlocks your vault, `/bulkhead vault lock` locks it now, `/bulkhead vault change` changes the master password, `/bulkhead secret <plugin>` opens a plugin\'s form for secrets.';
const notAnswered = 'Sorry, something went wrong on our side. Please try again.';

export class PrivateForms {
  readonly #options: PrivateFormsOptions;

  constructor(options: PrivateFormsOptions) {
    this.#options = options;
  }

  listen(app: App): void {
    for (const form of ['setup', 'unlock', 'change'] as const) {
      app.view<ViewSubmitAction>({ callback_id: callbackIds[form], type: 'view_submission' }, (args) => this.#submission(args, vaultTitles[form], (user, view) => this.#vaultForm(form, user, view)));
    }
    app.view<ViewSubmitAction>({ callback_id: callbackIds.secret, type: 'view_submission' }, (args) =>
      this.#submission(args, 'Private form', (user, view, context) => this.#secretForm(user, view, context, args.client)),
    );
    app.action({ type: 'block_actions', action_id: unlockActionId }, async ({ ack, body, client }) => {
      await ack();
      const user = this.#options.user(teamOf(body), body.user.id);
      if (!user) return;
      const channel = body.channel?.id ?? (typeof body.container['channel_id'] === 'string' ? body.container['channel_id'] : undefined);
      await this.#openVault(undefined, {
        user,
        triggerId: body.trigger_id,
        channel,
        client,
        reply: async (message) => {
          await postEphemeral(client, this.#options.logger, { user: user.userId, ...(channel ? { channel } : {}) }, message);
        },
      });
    });
  }

  /**
   * Answers `/bulkhead vault ...` and `/bulkhead secret ...`; false for any other command text.
   * Whatever follows `vault` or `secret` is taken here, never routed: someone who types their
   * master password after `vault` has it go nowhere.
   */
  async command(text: string, request: FormRequest): Promise<boolean> {
    const [word = '', ...args] = text.trim().split(/\s+/);
    switch (word.toLowerCase()) {
      case 'vault': {
        const sub = args.join(' ').toLowerCase();
        if (sub === '' || sub === 'unlock' || sub === 'setup' || sub === 'set up') await this.#openVault(undefined, request);
        else if (sub === 'change') await this.#openVault('change', request);
        else if (sub === 'lock') await this.#lock(request);
        else await tell(request, usage);
        return true;
      }
      case 'secret':
        await this.#openSecret(args, request);
        return true;
      default:
        return false;
    }
  }

  /** The message with the button that opens the vault's modal, for a call that needed the vault while it was locked. */
  async unlockPrompt(globalUserId: string): Promise<EphemeralMessage> {
    const { setUp } = await this.#options.vault.status(globalUserId);
    return unlockPrompt(setUp);
  }

  /** Opens the set-up modal (no vault yet), the unlock modal (a locked one) or, for `change`, the change modal. */
  async #openVault(form: 'change' | undefined, request: FormRequest): Promise<void> {
    const status = await this.#options.vault.status(request.user.identity.globalUserId);
    const context = request.channel ? { channel: request.channel } : {};
    if (!status.setUp) {
      await (form === 'change' ? tell(request, new BulkheadError('BH_VAULT_NOT_SET_UP').message) : this.#open(request, setupModal(context)));
    } else if (form === 'change') {
      await this.#open(request, changeModal(context));
    } else if (status.unlocked) {
      await tell(request, 'Your vault is already unlocked. `/bulkhead vault lock` locks it now; `/bulkhead vault change` changes the master password.');
    } else {
      await this.#open(request, unlockModal(context));
    }
  }

  async #lock(request: FormRequest): Promise<void> {
    const globalUserId = request.user.identity.globalUserId;
    if (!(await this.#options.vault.status(globalUserId)).setUp) {
      await tell(request, new BulkheadError('BH_VAULT_NOT_SET_UP').message);
      return;
    }
    await this.#options.vault.lock({ globalUserId, front: 'slack' });
    this.#options.logger.info({ front: 'slack', event: 'lock' }, 'slack.vault_done');
    await tell(request, 'Your vault is locked: nothing sealed can be read or written until you unlock it (`/bulkhead vault`).');
  }

  async #openSecret(args: readonly string[], request: FormRequest): Promise<void> {
    const plugin = args[0]?.toLowerCase();
    const capability = args[1];
    if (plugin === undefined || args.length > 2 || !pluginNamePattern.test(plugin)) {
      await tell(request, 'Write `/bulkhead secret <plugin>` (or `/bulkhead secret <plugin> <capability>`) to open the plugin\'s form for secrets.');
      return;
    }
    const form = this.#formOf(this.#options.callerOf(request.user, `slack:${request.channel ?? 'modal'}`), plugin, capability);
    if (typeof form === 'string') await tell(request, form);
    else await this.#open(request, secretModal(form.capability, form.fields, request.channel ? { channel: request.channel } : {}));
  }

  /** The capability marked secret that `/bulkhead secret <plugin> [<capability>]` names and its inputs, or why it has no form. */
  #formOf(caller: Pick<CallerContext, 'front' | 'admin'>, plugin: string, name: string | undefined): { capability: Capability; fields: FormField[] } | string {
    const capability = this.#secretCapability(caller, plugin, name);
    if (typeof capability === 'string') return capability;
    const fields = formFields(capability);
    return typeof fields === 'string' ? fields : { capability, fields };
  }

  #secretCapability(caller: Pick<CallerContext, 'front' | 'admin'>, plugin: string, name: string | undefined): Capability | string {
    const ofPlugin = this.#options.dispatcher.catalog(caller).filter((capability) => capability.plugin === plugin);
    if (ofPlugin.length === 0) return 'No plugin by that name offers anything here. `/bulkhead help` lists the plugins you can use.';
    const secret = ofPlugin.filter((capability) => capability.spec.secret === true);
    if (secret.length === 0) return `${plugin} has no form for secrets: none of its capabilities takes one. Ask it in an ordinary message, without any password in it.`;
    if (name === undefined) return secret[0] as Capability;
    return secret.find((capability) => capability.spec.name === name) ?? `${plugin} has no form for secrets by that name (it has: ${secret.map((c) => c.spec.name).join(', ')}).`;
  }

  async #open(request: FormRequest, view: Parameters<App['client']['views']['open']>[0]['view']): Promise<void> {
    try {
      await request.client.views.open({ trigger_id: request.triggerId, view });
    } catch (error) {
      this.#options.logger.error({ err: error }, 'slack.modal_failed');
      await tell(request, 'Sorry, the form could not be opened. Please try again.');
    }
  }

  /** Answers a submission within Slack's 3 seconds: errors on the inputs, a notice, or closed with a message to the submitter. */
  async #submission(args: Submission, title: string, work: (user: SlackUser, view: SubmittedView, context: ModalContext) => Promise<FormAnswer>): Promise<void> {
    const { ack, body, view, client } = args;
    const context = decodeContext(view.private_metadata);
    const user = this.#options.user(teamOf(body), body.user.id);
    if (!user) {
      await ack({ response_action: 'update', view: noticeModal(title, 'Bulkhead could not tell who you are, so nothing was done.') });
      return;
    }
    const pending = work(user, view, context).catch((error: unknown): FormAnswer => {
      this.#options.logger.error({ err: error }, 'slack.form_failed');
      return { notice: notAnswered };
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#options.answerWithinMs ?? answerWithinMs);
    });
    const answer = await Promise.race([pending, late]);
    clearTimeout(timer);
    const toSubmitter = async (texts: readonly string[]): Promise<void> => {
      for (const text of texts) await postEphemeral(client, this.#options.logger, { user: user.userId, ...(context.channel ? { channel: context.channel } : {}) }, { text });
    };
    if (answer === undefined) {
      await ack({ response_action: 'update', view: noticeModal(title, 'Working on it: the answer will show here in a moment.') });
      const outcome = await pending;
      const text = 'errors' in outcome ? Object.values(outcome.errors).join('\n') : 'notice' in outcome ? outcome.notice : 'Done: the answer is in a message from Bulkhead, shown only to you.';
      try {
        await client.views.update({ view_id: view.id, view: noticeModal(title, text) });
      } catch (error) {
        this.#options.logger.warn({ err: error }, 'slack.modal_update_failed');
      }
      if ('done' in outcome) await toSubmitter(outcome.done);
      return;
    }
    if ('errors' in answer) await ack({ response_action: 'errors', errors: { ...answer.errors } });
    else if ('notice' in answer) await ack({ response_action: 'update', view: noticeModal(title, answer.notice) });
    else {
      await ack();
      await toSubmitter(answer.done);
    }
  }

  async #vaultForm(form: VaultForm, user: SlackUser, view: SubmittedView): Promise<FormAnswer> {
    const vault = this.#options.vault;
    const caller = { globalUserId: user.identity.globalUserId, front: 'slack' } as const;
    const value = (blockId: string): string => submittedValue(view, blockId);
    try {
      if (form === 'setup') await vault.setup(caller, value(vaultBlocks.password), value(vaultBlocks.confirmation));
      else if (form === 'unlock') await vault.unlock(caller, value(vaultBlocks.password));
      else await vault.change(caller, value(vaultBlocks.current), value(vaultBlocks.password), value(vaultBlocks.confirmation));
    } catch (error) {
      if (!(error instanceof BulkheadError)) throw error;
      this.#options.logger.info({ front: 'slack', event: form, code: error.code }, 'slack.vault_refused');
      return { errors: { [vaultErrorBlock(form, error.code)]: error.message } };
    }
    this.#options.logger.info({ front: 'slack', event: form }, 'slack.vault_done');
    return { done: [vaultDone[form]] };
  }

  async #secretForm(user: SlackUser, view: SubmittedView, context: ModalContext, client: App['client']): Promise<FormAnswer> {
    const { plugin, capability: name } = context;
    if (plugin === undefined || name === undefined) return { notice: 'This form is out of date: open it again with `/bulkhead secret <plugin>`.' };
    const caller = await this.#options.caller(user, `slack:${context.channel ?? 'modal'}`, client);
    const form = this.#formOf(caller, plugin, name);
    if (typeof form === 'string') return { notice: form };
    const { fields } = form;
    const params = Object.fromEntries(fields.map((field) => [field.name, submittedValue(view, field.blockId)]).filter(([, value]) => value !== ''));
    const firstBlock = (fields[0] as { blockId: string }).blockId;
    const started = Date.now();
    const where = { front: 'slack', plugin, capability: name };
    let outcome: Awaited<ReturnType<Dispatcher['invoke']>>;
    try {
      outcome = await this.#options.dispatcher.invoke(caller, plugin, name, params);
    } catch (error) {
      if (!(error instanceof BulkheadError)) throw error;
      this.#options.logger.info({ ...where, code: error.code, durationMs: Date.now() - started }, 'slack.secret_form_refused');
      return { errors: { [firstBlock]: errorSentence(error) } };
    }
    if (outcome.vault?.locked) {
      // The plugin could not seal what it was given: the form stays open, for after an unlock.
      const { setUp } = await this.#options.vault.status(caller.globalUserId);
      const code = setUp ? 'BH_VAULT_LOCKED' : 'BH_VAULT_NOT_SET_UP';
      this.#options.logger.info({ ...where, code, durationMs: Date.now() - started }, 'slack.secret_form_refused');
      return { errors: { [firstBlock]: new BulkheadError(code).message } };
    }
    this.#options.logger.info({ ...where, durationMs: Date.now() - started }, 'slack.secret_form_done');
    // Every reply is plain text to Slack: a plugin cannot ping a channel or disguise a link.
    return { done: outcome.replies.length > 0 ? outcome.replies.map(escapeSlackText) : [`Done (${plugin} ${name}).`] };
  }
}

/** One of our texts to the requester; escaped, as Slack reads `<...>` (`<plugin>`) as a control sequence. */
function tell(request: FormRequest, text: string): Promise<void> {
  return request.reply({ text: escapeSlackText(text) });
}

const vaultTitles: Readonly<Record<VaultForm, string>> = { setup: 'Set up your vault', unlock: 'Unlock your vault', change: 'Change master password' };

const vaultDone: Readonly<Record<VaultForm, string>> = {
  setup:
    'Your vault is set up, and unlocked. It locks itself after a while without activity; `/bulkhead vault lock` locks it now. Remember: a forgotten master password cannot be recovered by anyone.',
  unlock: 'Your vault is unlocked. It locks itself after a while without activity; `/bulkhead vault lock` locks it now.',
  change: 'Your master password is changed: everything sealed is sealed again under it, and the old one opens nothing.',
};

/** The input an error of a vault form is shown on. */
function vaultErrorBlock(form: VaultForm, code: ErrorCode): string {
  if (code === 'BH_VAULT_PASSWORD_MISMATCH') return vaultBlocks.confirmation;
  if (form === 'change' && code !== 'BH_VAULT_PASSWORD_INVALID') return vaultBlocks.current;
  return vaultBlocks.password;
}
