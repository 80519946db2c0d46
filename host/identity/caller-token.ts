import { limitDefault } from '../config/limits.js';
import { createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import { decodeCanonicalBase64url } from '../core/base64url.js';
import { BulkheadError } from '../core/errors.js';
import type { TokenKey } from '../keys/key-service.js';
import { fronts, type Front } from './caller-context.js';

export { fronts, type Front };

/** The claims of a caller token. `sub` is the globalUserId: the only thing below the fronts that names a user. */
export interface CallerClaims {
  readonly v: 1;
  readonly kid: string;
  readonly sub: string;
  readonly plg: string;
  readonly front: Front;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
}

export type { TokenKey };

export interface CallerTokenOptions {
  /** Signs new tokens; also accepted when verifying. */
  readonly current: TokenKey;
  /** Older keys still accepted when verifying (key rotation). */
  readonly previous?: readonly TokenKey[];
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
  /** Most verified tokens remembered by jti until they expire. Default 10,000. */
  readonly cacheSize?: number;
}

/** Longest lifetime a token may claim. */
export const maxTokenTtlSeconds = limitDefault('token.maxTtlSeconds');
/** Allowed clock difference, both directions. */
export const clockSkewSeconds = 30;
/** Tokens longer than this are refused before any decoding. */
export const maxTokenLength = limitDefault('token.maxLength');

const prefix = 'v1';
const macLength = 32;
const claimKeys = ['v', 'kid', 'sub', 'plg', 'front', 'iat', 'exp', 'jti'] as const;
const maxSubLength = 256;
const pluginNamePattern = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Mints and verifies caller tokens: `v1.<base64url claims>.<base64url HMAC-SHA256>`.
 *
 * @example
 * const tokens = new CallerTokens({ current: keys.tokenKey() });
 * const token = tokens.sign({ sub: 'slack:T1:U1', plg: 'notes', front: 'slack' });
 * const claims = tokens.verify(token, 'notes'); // throws BulkheadError BH_TOKEN_*
 */
export class CallerTokens {
  readonly #current: TokenKey;
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #now: () => number;
  readonly #cacheSize: number;
  readonly #verified = new Map<string, CallerClaims>();

  constructor(options: CallerTokenOptions) {
    this.#current = options.current;
    this.#keys = new Map([options.current, ...(options.previous ?? [])].map((k) => [k.kid, k.key]));
    this.#now = options.now ?? Date.now;
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  sign(input: { sub: string; plg: string; front: Front; ttlSeconds?: number }): string {
    const ttl = input.ttlSeconds ?? 60;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTokenTtlSeconds) {
      throw new BulkheadError('BH_TOKEN_BAD_CLAIMS', { problem: `ttl must be 1 to ${maxTokenTtlSeconds} seconds` });
    }
    const iat = Math.floor(this.#now() / 1000);
    const claims: CallerClaims = {
      v: 1,
      kid: this.#current.kid,
      sub: input.sub,
      plg: input.plg,
      front: input.front,
      iat,
      exp: iat + ttl,
      jti: nextJti(),
    };
    const problem = claimsProblem(claims);
    if (problem) throw new BulkheadError('BH_TOKEN_BAD_CLAIMS', { problem });
    const body = `${prefix}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${body}.${mac(this.#current.key, body).toString('base64url')}`;
  }

  /**
   * Verifies in a fixed order: shape, canonical encoding, known kid, HMAC, lifetime, plugin.
   * Throws a BulkheadError with a BH_TOKEN_* code; never returns unverified claims.
   */
  verify(token: string, expectedPlugin: string): CallerClaims {
    const nowSeconds = Math.floor(this.#now() / 1000);
    const claims = this.#cachedClaims(token) ?? this.#verifyUncached(token);
    if (claims.iat > nowSeconds + clockSkewSeconds) throw new BulkheadError('BH_TOKEN_NOT_YET_VALID');
    if (claims.exp < nowSeconds - clockSkewSeconds) throw new BulkheadError('BH_TOKEN_EXPIRED');
    if (claims.plg !== expectedPlugin) throw new BulkheadError('BH_TOKEN_WRONG_PLUGIN');
    return claims;
  }

  #cachedClaims(token: string): CallerClaims | undefined {
    // Keyed by the whole token, not only its jti: a forged token that reuses a known jti is a
    // cache miss and is verified in full (and fails).
    return typeof token === 'string' ? this.#verified.get(token) : undefined;
  }

  #verifyUncached(token: string): CallerClaims {
    if (typeof token !== 'string' || token.length > maxTokenLength) throw new BulkheadError('BH_TOKEN_MALFORMED');
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== prefix || !parts[1] || !parts[2]) {
      throw new BulkheadError('BH_TOKEN_MALFORMED');
    }
    const [, claimsText, macText] = parts as [string, string, string];
    const claimsBytes = decodeCanonicalBase64url(claimsText);
    const givenMac = decodeCanonicalBase64url(macText);
    if (!claimsBytes || !givenMac) throw new BulkheadError('BH_TOKEN_NON_CANONICAL');

    let parsed: unknown;
    try {
      parsed = JSON.parse(claimsBytes.toString('utf8'));
    } catch {
      throw new BulkheadError('BH_TOKEN_MALFORMED');
    }
    const kid = isRecord(parsed) ? parsed['kid'] : undefined;
    if (typeof kid !== 'string') throw new BulkheadError('BH_TOKEN_MALFORMED');
    const key = this.#keys.get(kid);
    if (!key) throw new BulkheadError('BH_TOKEN_UNKNOWN_KEY');

    const expectedMac = mac(key, `${prefix}.${claimsText}`);
    if (givenMac.length !== macLength || !timingSafeEqual(givenMac, expectedMac)) {
      throw new BulkheadError('BH_TOKEN_BAD_SIGNATURE');
    }
    const problem = claimsProblem(parsed);
    if (problem) throw new BulkheadError('BH_TOKEN_BAD_CLAIMS', { problem });
    const claims = parsed as unknown as CallerClaims;
    this.#remember(token, claims);
    return claims;
  }

  #remember(token: string, claims: CallerClaims): void {
    // Insertion order is close to expiry order (every TTL is at most 120 s), so dropping the
    // oldest entries first drops expired ones first.
    while (this.#verified.size >= this.#cacheSize) {
      const oldest = this.#verified.keys().next();
      if (oldest.done) break;
      this.#verified.delete(oldest.value);
    }
    this.#verified.set(token, claims);
  }
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns what is wrong with a claims object (no values), or undefined when it is well formed. */
function claimsProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'claims must be an object';
  const keys = Object.keys(value);
  if (keys.length !== claimKeys.length || !claimKeys.every((k) => Object.hasOwn(value, k))) {
    return `claims must be exactly ${claimKeys.join(', ')}`;
  }
  const { v, kid, sub, plg, front, iat, exp, jti } = value;
  if (v !== 1) return 'v must be 1';
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 64) return 'kid must be a short string';
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > maxSubLength) {
    return `sub must be a string of 1 to ${maxSubLength} characters`;
  }
  if (typeof plg !== 'string' || !pluginNamePattern.test(plg)) return 'plg must be a plugin name';
  if (typeof front !== 'string' || !(fronts as readonly string[]).includes(front)) return 'front is not a known front';
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) return 'iat and exp must be integer seconds';
  const ttl = (exp as number) - (iat as number);
  if (ttl <= 0 || ttl > maxTokenTtlSeconds) return `exp must be 1 to ${maxTokenTtlSeconds} seconds after iat`;
  if (typeof jti !== 'string' || decodeCanonicalBase64url(jti)?.length !== 16) return 'jti must be 16 random bytes';
  return undefined;
}

/**
 * Token ids come from a pool of random bytes refilled 4 KiB at a time: one system call per 256
 * tokens instead of one per token (as crypto.randomUUID does internally).
 */
const jtiPool = Buffer.alloc(4096);
let jtiOffset = jtiPool.length;

function nextJti(): string {
  if (jtiOffset + 16 > jtiPool.length) {
    randomFillSync(jtiPool);
    jtiOffset = 0;
  }
  const jti = jtiPool.toString('base64url', jtiOffset, jtiOffset + 16);
  jtiOffset += 16;
  return jti;
}
