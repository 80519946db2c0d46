/**
 * host/log: the one logger of the host. No user data reaches a log line: chat text shows as
 * `[User: N chars]`, prompts and model output as `sha256:` hashes, any field not listed in
 * field-policy.ts as its size, errors as type, code and frames. The policy sits inside the logger
 * (pino hooks and formatters), not at call sites. Call sites pass constant messages and put every
 * variable in a field.
 */
export { createLogger, type LoggerOptions } from './create-logger.js';
export { userText, digest } from './summaries.js';
export { boltLogger } from './bolt-logger.js';
export { fastifyLoggerOptions, type FastifyLoggerOptions } from './fastify-logger.js';
export type { Logger } from 'pino';
