// A fake price source on 127.0.0.1, speaking the protocol of BULKHEAD_MARKET_URL (host/market):
//
//   GET <url>?symbols=AAPL,BTC-USD   ->   200 {"prices": {"AAPL": 187.25}}
//
// A symbol without a price set is left out of `prices`, as a real source leaves out one it does not
// know. Its `mode` makes it misbehave: 'hang' never answers (the host's BULKHEAD_MARKET_TIMEOUT_MS
// cuts it), 'garbage' answers 200 with `garbageBody` (not JSON by default; set a wrong shape to
// test that), 'http500' answers an HTTP error.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback } from './local-server.js';

export type PriceFeedMode = 'ok' | 'hang' | 'garbage' | 'http500';

export interface FakePriceFeed {
  /** `http://127.0.0.1:PORT/prices`, for BULKHEAD_MARKET_URL. */
  readonly url: string;
  /** How the next requests are answered. */
  mode: PriceFeedMode;
  /** The 200 body sent in 'garbage' mode. Default: text that is not JSON. */
  garbageBody: string;
  /** Sets the price of a symbol (it is then in every answer that asks for it). */
  setPrice(symbol: string, price: number): void;
  /** Forgets a symbol's price: answers leave it out. */
  unsetPrice(symbol: string): void;
  /** Requests received so far (answered or not). */
  readonly requests: number;
  /** The symbols each request asked for, in arrival order. */
  readonly asked: readonly (readonly string[])[];
  close(): Promise<void>;
}

export async function startFakePriceFeed(): Promise<FakePriceFeed> {
  const prices = new Map<string, number>();
  const asked: string[][] = [];
  const state = { mode: 'ok' as PriceFeedMode, garbageBody: 'this is not JSON {' };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/prices') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const symbols = (url.searchParams.get('symbols') ?? '').split(',').filter((s) => s !== '');
    asked.push(symbols);
    switch (state.mode) {
      case 'hang':
        return; // never answered; closeServer drops the socket
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end(state.garbageBody);
        return;
      case 'http500':
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}');
        return;
      case 'ok': {
        const answer: Record<string, number> = {};
        for (const symbol of symbols) {
          const price = prices.get(symbol);
          if (price !== undefined) answer[symbol] = price;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ prices: answer }));
      }
    }
  });
  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}/prices`,
    get mode() {
      return state.mode;
    },
    set mode(mode: PriceFeedMode) {
      state.mode = mode;
    },
    get garbageBody() {
      return state.garbageBody;
    },
    set garbageBody(body: string) {
      state.garbageBody = body;
    },
    setPrice(symbol, price) {
      prices.set(symbol, price);
    },
    unsetPrice(symbol) {
      prices.delete(symbol);
    },
    get requests() {
      return asked.length;
    },
    asked,
    close: () => closeServer(server),
  };
}
