/**
 * Coded errors as HTTP answers. The body is always `{"error": {code, message[, detail]}}`: the
 * message comes from the error table and carries no user data; `detail` is a plugin's own text
 * about its failure, which goes back only to the caller who made the call.
 */
import { BulkheadError, type ErrorCode } from '../host/core/errors.js';

const statusByCode: Partial<Record<ErrorCode, number>> = {
  BH_LOGIN_LINK_INVALID: 401,
  BH_SESSION_REQUIRED: 401,
  BH_FRESH_LOGIN_REQUIRED: 403,
  BH_CROSS_SITE_REFUSED: 403,
  BH_CAPABILITY_FORBIDDEN: 403,
  BH_SESSION_NOT_FOUND: 404,
  BH_ROUTE_NOT_FOUND: 404,
  BH_PLUGIN_NOT_FOUND: 404,
  BH_CAPABILITY_NOT_FOUND: 404,
  BH_REQUEST_INVALID: 400,
  BH_AUDIT_FILTER_INVALID: 400,
  BH_PARAMS_INVALID: 400,
  BH_PARAMS_TOO_LARGE: 413,
  BH_RATE_LIMITED: 429,
  BH_EXECUTOR_OVERLOADED: 503,
  BH_EXECUTOR_CLOSED: 503,
  BH_STORE_BUSY: 503,
  // Nothing ran without its audit line; trying again may work.
  BH_AUDIT_WRITE_FAILED: 503,
  BH_ACCOUNT_BEING_DELETED: 409,
  // The vault. A wrong master password is 403, not 401: the session is fine (401 tells the UI and
  // any client that it has to log in again); this one action is refused.
  BH_VAULT_WRONG_PASSWORD: 403,
  BH_VAULT_RATE_LIMITED: 429,
  BH_VAULT_LOCKED: 423,
  BH_VAULT_NOT_SET_UP: 409,
  BH_VAULT_ALREADY_SET_UP: 409,
  BH_VAULT_PASSWORD_INVALID: 400,
  BH_VAULT_PASSWORD_MISMATCH: 400,
  BH_VAULT_BUSY: 503,
  // The account was purged while the request ran: what it asked about is gone.
  BH_INTERNAL_ERROR: 500,
};

/**
 * The HTTP status of a coded error. A capability that ran and failed (its own error, a timeout,
 * a store refusal) is 422: the request was understood, the capability could not do it.
 */
export function httpStatusOf(error: BulkheadError): number {
  return statusByCode[error.code] ?? 422;
}

export interface ErrorBody {
  readonly error: ReturnType<BulkheadError['toJSON']>;
}

export function errorBody(error: BulkheadError): ErrorBody {
  return { error: error.toJSON() };
}

/** The JSON schema of every error answer, for route schemas and the OpenAPI document. */
export const errorSchema = {
  $id: 'bulkhead-error',
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', description: 'A stable code from host/core/errors.md.' },
        message: { type: 'string', description: 'What went wrong and what to do; never user data.' },
        detail: { type: 'string', description: "The plugin's own text about its failure (BH_PLUGIN_ERROR only)." },
      },
    },
  },
} as const;

/** Problems fastify reports before a route runs, by fastify error code: fixed texts, nothing echoed. */
const fastifyProblems: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty but the content type is JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'the body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'the content type is not supported; send application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the content length does not match the body',
};

/** Any error thrown while serving a request, as a coded error. */
export function toBulkheadError(error: unknown): BulkheadError {
  if (error instanceof BulkheadError) return error;
  const e = error as { code?: unknown; validation?: unknown; validationContext?: unknown; message?: unknown; statusCode?: unknown };
  if (Array.isArray(e.validation)) {
    const first = e.validation[0] as { instancePath?: string; message?: string } | undefined;
    const where = `${typeof e.validationContext === 'string' ? e.validationContext : 'request'}${first?.instancePath ?? ''}`;
    return new BulkheadError('BH_REQUEST_INVALID', { problem: `${where} ${first?.message ?? 'does not match the schema'}`.slice(0, 300) });
  }
  if (typeof e.code === 'string' && fastifyProblems[e.code]) return new BulkheadError('BH_REQUEST_INVALID', { problem: fastifyProblems[e.code] as string });
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new BulkheadError('BH_REQUEST_INVALID', { problem: `the request was refused (HTTP ${e.statusCode})` });
  }
  return new BulkheadError('BH_INTERNAL_ERROR', { problem: 'the dashboard could not answer a request' });
}

/** The status for an error already turned into a BulkheadError, keeping fastify's 4xx where it had one. */
export function statusFor(original: unknown, error: BulkheadError): number {
  const status = (original as { statusCode?: unknown }).statusCode;
  if (error.code === 'BH_REQUEST_INVALID' && typeof status === 'number' && status >= 400 && status < 500) return status;
  return httpStatusOf(error);
}
