/**
 * Magic login links. A link is self-verifying: its token is AES-256-GCM over
 * {user, platform identity, expiry, nonce} with a key derived from the signing root key, so the
 * CLI can mint one while the host runs, without touching any file the host holds open. The host
 * records each nonce as used when the link is consumed (sessions.ts), so a link works once; the
 * token itself is never stored. Links are opened by a POST from the landing page, never by GET:
 * the token sits in the URL fragment, which browsers do not send to servers, proxies or Referer.
 *
 * @example
 * const links = new LoginLinks(keys.dashboardLinkKey());
 * const url = links.url('http://127.0.0.1:3000', { globalUserId: 'console:alice', platformIdentity: 'console:alice' });
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** How long a link can be used: 10 minutes. */
export const loginLinkLifetimeMs = 10 * 60 * 1000;

/** Longest token accepted (a real one is about 200 characters). */
export const maxLoginTokenLength = 1024;

export interface LinkIdentity {
  readonly globalUserId: string;
  /** How BULKHEAD_ADMINS names this identity (`console:<name>`, `slack:<team>:<user>`). */
  readonly platformIdentity: string;
}

export interface OpenedLink extends LinkIdentity {
  /** Random, unique per link: what the host records as used. */
  readonly nonce: string;
  readonly expiresAt: number;
}

const version = 1;
const aad = Buffer.from('bulkhead dashboard login link v1');

export class LoginLinks {
  readonly #key: Buffer;
  readonly #now: () => number;

  constructor(key: Buffer, now: () => number = Date.now) {
    if (key.length !== 32) throw new Error('a login link key is 32 bytes');
    this.#key = Buffer.from(key);
    this.#now = now;
  }

  /** A fresh token for this identity, valid for 10 minutes from now. */
  mint(identity: LinkIdentity): string {
    const payload = Buffer.from(
      JSON.stringify({ u: identity.globalUserId, p: identity.platformIdentity, e: this.#now() + loginLinkLifetimeMs, n: randomBytes(16).toString('base64url') }),
    );
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(aad);
    const sealed = Buffer.concat([cipher.update(payload), cipher.final()]);
    return Buffer.concat([Buffer.of(version), iv, sealed, cipher.getAuthTag()]).toString('base64url');
  }

  /** The link a user opens: the landing page, with the token in the fragment. */
  url(base: string, identity: LinkIdentity): string {
    return `${base.replace(/\/+$/, '')}/login#${this.mint(identity)}`;
  }

  /**
   * The identity in a token, or undefined when it is forged, altered, malformed or expired. Every
   * failure looks the same to the caller. Whether it was used already is for the caller to check.
   */
  open(token: unknown): OpenedLink | undefined {
    if (typeof token !== 'string' || token.length > maxLoginTokenLength || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
    const bytes = Buffer.from(token, 'base64url');
    if (bytes.length < 1 + 12 + 16 + 2 || bytes[0] !== version) return undefined;
    let payload: unknown;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(1, 13));
      decipher.setAAD(aad);
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      const plain = Buffer.concat([decipher.update(bytes.subarray(13, bytes.length - 16)), decipher.final()]);
      payload = JSON.parse(plain.toString('utf8'));
    } catch {
      return undefined;
    }
    const { u, p, e, n } = (payload ?? {}) as Record<string, unknown>;
    if (typeof u !== 'string' || typeof p !== 'string' || typeof e !== 'number' || typeof n !== 'string') return undefined;
    if (e <= this.#now()) return undefined;
    return { globalUserId: u, platformIdentity: p, expiresAt: e, nonce: n };
  }
}
