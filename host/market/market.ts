/**
 * Prices for the `market` host function, fetched by the host (plugins get no network) from the
 * operator's source, BULKHEAD_MARKET_URL:
 *
 *   GET <url>?symbols=AAPL,BTC-USD   ->   200 {"prices": {"AAPL": 187.25, "BTC-USD": 64000.5}}
 *
 * A symbol the source does not know is left out of `prices`. Each price is kept for
 * BULKHEAD_MARKET_CACHE_SECONDS, so a thousand alerts on one symbol ask the source once. A source
 * that does not answer within the time limit, answers an HTTP error or anything but that shape
 * gives a coded error, and no price.
 */
import { BulkheadError } from '../core/errors.js';

export interface MarketSettings {
  /** BULKHEAD_MARKET_URL; undefined: the market host function answers BH_MARKET_UNAVAILABLE. */
  readonly url: string | undefined;
  /** BULKHEAD_MARKET_CACHE_SECONDS. */
  readonly cacheSeconds: number;
  /** BULKHEAD_MARKET_TIMEOUT_MS. */
  readonly timeoutMs: number;
}

/** A symbol: upper-case letters, digits, dot and hyphen, 1 to 15 characters (AAPL, BRK.B, BTC-USD). */
export const symbolPattern = /^[A-Z0-9][A-Z0-9.-]{0,14}$/;
/** Most symbols one request names. */
export const maxSymbolsPerRequest = 20;
/** Most bytes of the source's answer read. */
const maxAnswerBytes = 256 * 1024;

export interface Prices {
  /** Price by symbol, for the symbols the source knows. */
  readonly prices: Readonly<Record<string, number>>;
  /** Symbols the source does not know. */
  readonly missing: readonly string[];
}

export class Market {
  readonly #settings: MarketSettings;
  readonly #now: () => number;
  readonly #cache = new Map<string, { price: number | null; until: number }>();
  /** Fetches in progress by symbol: a check that misses the cache while one runs waits for it. */
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(settings: MarketSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /** Prices of the symbols (already checked against symbolPattern), from the cache or the source. */
  async prices(symbols: readonly string[]): Promise<Prices> {
    const url = this.#settings.url;
    if (!url) throw new BulkheadError('BH_MARKET_UNAVAILABLE');
    const now = this.#now();
    const stale = [...new Set(symbols)].filter((symbol) => (this.#cache.get(symbol)?.until ?? 0) <= now);
    const joined = stale.map((symbol) => this.#inFlight.get(symbol)).filter((p): p is Promise<void> => p !== undefined);
    const wanted = stale.filter((symbol) => !this.#inFlight.has(symbol));
    if (wanted.length > 0) {
      const fetching = this.#fetch(url, wanted).then((fetched) => {
        const until = now + this.#settings.cacheSeconds * 1000;
        for (const symbol of wanted) this.#cache.set(symbol, { price: fetched[symbol] ?? null, until });
        while (this.#cache.size > 10_000) this.#cache.delete(this.#cache.keys().next().value as string);
      });
      const done = fetching.finally(() => {
        for (const symbol of wanted) if (this.#inFlight.get(symbol) === done) this.#inFlight.delete(symbol);
      });
      for (const symbol of wanted) this.#inFlight.set(symbol, done);
      joined.push(done);
    }
    // A failed fetch fails every check waiting for it, with its coded error.
    await Promise.all(joined);
    const prices: Record<string, number> = {};
    const missing: string[] = [];
    for (const symbol of symbols) {
      const price = this.#cache.get(symbol)?.price;
      if (typeof price === 'number') prices[symbol] = price;
      else if (!missing.includes(symbol)) missing.push(symbol);
    }
    return { prices, missing };
  }

  async #fetch(base: string, symbols: readonly string[]): Promise<Record<string, number>> {
    const url = new URL(base);
    url.searchParams.set('symbols', symbols.join(','));
    let text: string;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.#settings.timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
      if (!response.ok) throw new BulkheadError('BH_MARKET_BAD_ANSWER', { problem: `HTTP status ${response.status}` });
      const length = Number(response.headers.get('content-length') ?? 0);
      if (length > maxAnswerBytes) throw new BulkheadError('BH_MARKET_BAD_ANSWER', { problem: 'the answer is too large' });
      text = await response.text();
    } catch (error) {
      if (error instanceof BulkheadError) throw error;
      const name = (error as { name?: unknown } | null)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new BulkheadError('BH_MARKET_TIMEOUT', { limit: this.#settings.timeoutMs });
      throw new BulkheadError('BH_MARKET_BAD_ANSWER', { problem: 'the source could not be reached' });
    }
    if (text.length > maxAnswerBytes) throw new BulkheadError('BH_MARKET_BAD_ANSWER', { problem: 'the answer is too large' });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new BulkheadError('BH_MARKET_BAD_ANSWER', { problem: 'the answer is not JSON' });
    }
    const prices = (parsed as { prices?: unknown } | null)?.prices;
    if (typeof prices !== 'object' || prices === null || Array.isArray(prices)) {
      throw new BulkheadError('BH_MARKET_BAD_ANSWER', { problem: 'the answer has no "prices" object' });
    }
    const out: Record<string, number> = {};
    for (const symbol of symbols) {
      if (!Object.hasOwn(prices, symbol)) continue;
      const price = (prices as Record<string, unknown>)[symbol];
      if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) {
        throw new BulkheadError('BH_MARKET_BAD_ANSWER', { problem: 'a price is not a finite number of zero or more' });
      }
      out[symbol] = price;
    }
    return out;
  }
}
