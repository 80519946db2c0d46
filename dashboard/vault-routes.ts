/**
 * The dashboard's vault routes (tag `vault`): the state of the caller's vault, and the set-up,
 * unlock, lock and change of their master password, all on the host's VaultService with the
 * session's caller. No route names a user.
 *
 * - Set-up and change need a login from the last 5 minutes (requireFreshLogin, as the export): a
 *   session left open on a shared computer cannot choose, or replace, the password that guards
 *   every sealed value.
 * - Set-up, unlock and change are limited per user (BULKHEAD_VAULT_PER_MINUTE, each route on its
 *   own) besides the vault's own growing waits after wrong passwords, which survive restarts and
 *   whichever front the tries came from.
 * - Passwords travel in the JSON body only (never a URL), go to the vault service and nowhere
 *   else: no log line carries a body, and no error message carries a value. Answers are no-store.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CallerContext } from '../host/identity/caller-context.js';
import { masterPasswordRules, type VaultService, type VaultStatus } from '../host/vault/vault-service.js';
import { toBulkheadError } from './http-errors.js';
import { requireFreshLogin, type SessionRecord } from './sessions.js';

/** What the dashboard needs of the vault service (host/vault/vault-service.ts). */
export type DashboardVault = Pick<VaultService, 'status' | 'setup' | 'unlock' | 'lock' | 'change'>;

export interface VaultRoutesOptions {
  readonly vault: DashboardVault;
  /** The caller context of a request's session. */
  readonly caller: (request: FastifyRequest) => CallerContext;
  /** BULKHEAD_VAULT_PER_MINUTE. */
  readonly vaultPerMinute: number;
  /** The dashboard's clock, ms since the epoch (the one sessions use). */
  readonly now: () => number;
  /** The error answers every authenticated route documents. */
  readonly errors: Readonly<Record<number, unknown>>;
}

/** Seconds a client is told to wait when every key derivation is taken (BH_VAULT_BUSY). */
const busyRetrySeconds = 5;

const security = [{ session: [] }];

const password = (description: string) => ({ type: 'string', minLength: 1, maxLength: masterPasswordRules.maxChars, description }) as const;

const statusSchema = {
  type: 'object',
  required: ['setUp', 'unlocked', 'changing', 'retryAfterSeconds', 'passwordRules'],
  additionalProperties: false,
  properties: {
    setUp: { type: 'boolean', description: 'You have set up a vault (a master password).' },
    unlocked: { type: 'boolean', description: 'Your vault is open: sealed fields can be read and written.' },
    changing: { type: 'boolean', description: 'A change of master password is unfinished; unlocking with the new password finishes it.' },
    retryAfterSeconds: { type: 'integer', description: 'Seconds before a master password may be tried again (after wrong ones); 0 when a try is allowed now.' },
    passwordRules: {
      type: 'object',
      required: ['minChars', 'maxChars'],
      additionalProperties: false,
      properties: { minChars: { type: 'integer' }, maxChars: { type: 'integer' } },
      description: 'How long a new master password must be, in characters.',
    },
  },
} as const;

const describe = (status: VaultStatus) => ({ ...status, passwordRules: { minChars: masterPasswordRules.minChars, maxChars: masterPasswordRules.maxChars } });

export function registerVaultRoutes(app: FastifyInstance, options: VaultRoutesOptions): void {
  const { vault, caller, errors } = options;
  const vaultErrors = { ...errors, 409: { $ref: 'bulkhead-error#' }, 423: { $ref: 'bulkhead-error#' }, 503: { $ref: 'bulkhead-error#' } };
  const passwordLimit = {
    rateLimit: {
      max: options.vaultPerMinute,
      timeWindow: 60_000,
      hook: 'preHandler',
      keyGenerator: (request: FastifyRequest) => `vault:${request.dashboardSession?.globalUserId ?? request.ip}`,
    },
  } as const;

  /** Runs one vault operation for the session's caller; answers the vault's state afterwards. */
  const operate = async (request: FastifyRequest, reply: FastifyReply, work: (who: CallerContext) => Promise<void>) => {
    const who = caller(request);
    reply.header('cache-control', 'no-store');
    try {
      await work(who);
    } catch (error) {
      const { code } = toBulkheadError(error);
      if (code === 'BH_VAULT_RATE_LIMITED') reply.header('retry-after', String(Math.max(1, (await vault.status(who.globalUserId)).retryAfterSeconds)));
      if (code === 'BH_VAULT_BUSY') reply.header('retry-after', String(busyRetrySeconds));
      throw error;
    }
    return describe(await vault.status(who.globalUserId));
  };
  const fresh = (request: FastifyRequest): void => requireFreshLogin(request.dashboardSession as SessionRecord, options.now());

  app.get(
    '/api/v1/vault',
    { schema: { summary: 'Your vault: whether it is set up and unlocked, and how long to wait after wrong passwords', tags: ['vault'], security, response: { 200: statusSchema, ...vaultErrors } } },
    async (request, reply) => operate(request, reply, async () => undefined),
  );

  app.post<{ Body: { password: string; confirmation: string } }>(
    '/api/v1/vault/setup',
    {
      config: passwordLimit,
      schema: {
        summary: 'Set up your vault with a master password (needs a login from the last 5 minutes)',
        description:
          'The master password cannot be recovered: if it is forgotten, every sealed value is lost. The vault is unlocked afterwards. A login older than 5 minutes is refused with BH_FRESH_LOGIN_REQUIRED.',
        tags: ['vault'],
        security,
        body: {
          type: 'object',
          required: ['password', 'confirmation'],
          additionalProperties: false,
          properties: { password: password('The new master password.'), confirmation: password('The same again.') },
        },
        response: { 200: statusSchema, ...vaultErrors },
      },
    },
    async (request, reply) => {
      fresh(request);
      return operate(request, reply, (who) => vault.setup(who, request.body.password, request.body.confirmation));
    },
  );

  app.post<{ Body: { password: string } }>(
    '/api/v1/vault/unlock',
    {
      config: passwordLimit,
      schema: {
        summary: 'Unlock your vault with your master password',
        description: 'A wrong password is BH_VAULT_WRONG_PASSWORD (403); after a few, each try must wait longer (BH_VAULT_RATE_LIMITED, 429 with Retry-After).',
        tags: ['vault'],
        security,
        body: { type: 'object', required: ['password'], additionalProperties: false, properties: { password: password('Your master password.') } },
        response: { 200: statusSchema, ...vaultErrors },
      },
    },
    async (request, reply) => operate(request, reply, (who) => vault.unlock(who, request.body.password)),
  );

  app.post(
    '/api/v1/vault/lock',
    { schema: { summary: 'Lock your vault now: its key is wiped from memory', tags: ['vault'], security, response: { 200: statusSchema, ...vaultErrors } } },
    async (request, reply) => operate(request, reply, (who) => vault.lock(who)),
  );

  app.post<{ Body: { current: string; password: string; confirmation: string } }>(
    '/api/v1/vault/change',
    {
      config: passwordLimit,
      schema: {
        summary: 'Change your master password (needs the current one, and a login from the last 5 minutes)',
        description: 'Every sealed value is sealed again under the new password; from then on the old one opens nothing.',
        tags: ['vault'],
        security,
        body: {
          type: 'object',
          required: ['current', 'password', 'confirmation'],
          additionalProperties: false,
          properties: { current: password('Your master password now.'), password: password('The new master password.'), confirmation: password('The new one again.') },
        },
        response: { 200: statusSchema, ...vaultErrors },
      },
    },
    async (request, reply) => {
      fresh(request);
      return operate(request, reply, (who) => vault.change(who, request.body.current, request.body.password, request.body.confirmation));
    },
  );
}
