// The `market` host function (permission "market"): prices the host fetched from the operator's
// source. Plugins get no network; the host asks the source, caches each price for a while, and
// answers {"ok":true,"prices":{"AAPL":187.25},"missing":[]} or a coded error (BH_MARKET_TIMEOUT,
// BH_MARKET_BAD_ANSWER, BH_MARKET_UNAVAILABLE, BH_MARKET_INVALID, BH_HOST_CALL_LIMIT). Each call
// counts against limits.maxQueriesPerCall, like a store query.
import { free } from "./env";
import { finishBlock, startBlock } from "./blocks";
import { Json } from "./json";
import { HostResult, PDK_BAD_RESPONSE, allocationRefused, readAnswer } from "./result";

// The raw import lives here rather than in env.ts for now (env.ts is being extended in parallel);
// like every declaration there, it becomes an import only when compiled code reaches it, so a
// plugin without the "market" permission that never calls `market` does not import it.
/** Permission `market`. Takes a block of `{"symbols":[...]}`; returns a block of the answer JSON. */
@external("extism:host/user", "market")
declare function host_market(request: i64): i64;

/** Most symbols one request may name (the host refuses more with BH_MARKET_INVALID). */
export const MARKET_MAX_SYMBOLS: i32 = 20;

/**
 * The answer to `market`. On success, `price(symbol)` is the price of each symbol the source knows
 * and `missing` lists the ones it does not; on failure, `code` is BH_MARKET_TIMEOUT (the source
 * did not answer in time), BH_MARKET_BAD_ANSWER (it answered something unusable),
 * BH_MARKET_UNAVAILABLE (no source configured), BH_MARKET_INVALID (a bad request) or another
 * code of host/core/errors.md, and no price is given.
 *
 * @example
 * const quote = market(["AAPL"]);
 * if (!quote.ok) return fail(quote.error);        // "BH_MARKET_TIMEOUT: ..."
 * if (!quote.has("AAPL")) return fail("No price for AAPL.");
 * const now = quote.price("AAPL");
 */
export class MarketResult extends HostResult {
  private missingSymbols: Array<string> | null = null;

  /** Whether the answer holds a price for `symbol`. */
  has(symbol: string): bool {
    const prices = this.prices;
    return prices != null && prices.has(symbol) && !isNaN(prices.getNumber(symbol));
  }

  /** The price of `symbol`, or NaN when the answer has none (failed, or a missing symbol). */
  price(symbol: string): f64 {
    const prices = this.prices;
    return prices != null ? prices.getNumber(symbol) : NaN;
  }

  /** The answer's `prices` object (symbol -> price), or null when the call failed. */
  get prices(): Json | null {
    return this.ok ? this.response.getObject("prices") : null;
  }

  /** The symbols the source does not know (empty when the call failed). */
  get missing(): Array<string> {
    let missing = this.missingSymbols;
    if (missing == null) {
      missing = new Array<string>();
      const listed = this.ok ? this.response.getArray("missing") : null;
      if (listed != null) {
        for (let i = 0; i < listed.length; i++) {
          const symbol = listed[i].asString();
          if (symbol != null) missing.push(symbol);
        }
      }
      this.missingSymbols = missing;
    }
    return missing;
  }
}

/**
 * Asks the host for the prices of `symbols` (1 to 20, each 1 to 15 upper-case letters, digits,
 * dots or hyphens: AAPL, BRK.B, BTC-USD). Not fatal when it fails: check `ok` and decide.
 */
export function market(symbols: Array<string>): MarketResult {
  const result = new MarketResult();
  const out = startBlock();
  out.ascii('{"symbols":[');
  for (let i = 0; i < symbols.length; i++) {
    if (i > 0) out.byte(0x2c); // ,
    out.jsonString(unchecked(symbols[i]));
  }
  out.ascii("]}");
  const handle = finishBlock();
  if (handle == 0) {
    allocationRefused(result);
    return result;
  }
  const answer = host_market(handle);
  free(handle);
  readAnswer(result, answer);
  if (result.ok && result.response.getObject("prices") == null) {
    result.ok = false;
    result.code = PDK_BAD_RESPONSE;
    result.message = "The PDK could not read the host's answer (it has no prices). This is a bug in the host or the PDK.";
  }
  return result;
}
