/**
 * Messages of third-party code known to carry no user data, and so shown as they are. Everything
 * else these libraries log is shown as its length and hash (message.ts). Each entry was read in the
 * installed sources (paths under node_modules, versions of package-lock.json); an entry admits only
 * constant text, numbers, or values from a closed set. Messages that interpolate payloads, URLs,
 * error messages or event reasons (`Received a message on the WebSocket: ${payload}`,
 * `http request url: ${url}`, `Route ${method}:${url} not found`) are left out on purpose.
 *
 * Keep the lists small: a message missing here costs an operator a readable line, a wrong entry
 * costs a user their privacy.
 */

/** A pattern that matches `text` and nothing else. */
export function exact(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

const readyStates = 'CONNECTING|OPEN|CLOSING|CLOSED';

/** @slack/bolt 5.1.0, @slack/socket-mode 3.1.0, @slack/web-api 8.2.0. */
export const slackMessages: readonly RegExp[] = [
  // @slack/socket-mode dist/src/SocketModeClient.js
  exact('The logLevel given to Socket Mode was ignored as you also gave logger'),
  exact('The Socket Mode client has successfully initialized'),
  exact('Starting Socket Mode session ...'),
  exact('Manually disconnecting this Socket Mode client'),
  /^Before trying to reconnect, this client will wait for \d{1,9} milliseconds$/,
  exact('Client shutting down, will not attempt reconnect.'),
  exact('Continuing with reconnect...'),
  exact('Going to retrieve a new WSS URL ...'),
  exact('Unexpected binary message received, ignoring.'),
  new RegExp(`^send\\(\\) method was called \\(WebSocket state: (?:${readyStates}|uninitialized)\\)$`),
  exact('Failed to send a message as the client is not connected'),
  exact('Failed to send a message as the client has no active connection'),
  // @slack/socket-mode dist/src/SlackWebSocket.js
  exact('Initiating new WebSocket connection.'),
  exact('WebSocket open event received (connection established)!'),
  exact('Terminating WebSocket (close frame received).'),
  exact('Terminating WebSocket (close frame sent but no response, force-terminating).'),
  exact('Sending close frame (status=1000).'),
  exact('Peer did not complete the close handshake in time; forcing cleanup.'),
  exact('WebSocket already disconnected, flushing remainder.'),
  exact('isActive(): websocket not instantiated!'),
  new RegExp(`^isActive\\(\\): websocket ready state is (?:${readyStates})$`),
  /^A ping wasn't received from the server before the timeout of \d{1,9}ms!$/,
  /^A pong wasn't received from the server before the timeout of \d{1,9}ms!$/,
  exact('WebSocket not available, skipping ping.'),
  exact('Started monitoring pings to and pongs from Slack.'),
  // @slack/web-api dist/WebClient.js
  exact('The logLevel given to WebClient was ignored as you also gave logger'),
  exact('initialized'),
  /^apiCall\('[a-z][A-Za-z.]{0,63}'\) (?:start|end)$/,
  exact('http response received'),
  exact('http request failed'),
  /^API Call failed due to rate limiting\. Will retry in \d{1,9} seconds\.$/,
  exact('Request arguments contain binary data'),
  exact('files.uploadV2() start'),
  // @slack/bolt dist/App.js, dist/conversation-store.js, dist/receivers/*.js
  exact('Initializing SocketModeReceiver'),
  exact('Initializing HTTPReceiver'),
  exact('Could not determine the type of an incoming event. No listeners will be called.'),
  exact('Authorization of incoming event did not succeed. No listeners will be called.'),
  exact('Something has gone wrong. Please report this issue to the maintainers. https://github.com/slackapi/bolt-js/issues'),
  /^Slack API error: [a-z0-9_]{1,64}$/,
  /^Rate limited, retry after \d{1,9}s$/,
  exact('No conversation ID for incoming event'),
  exact('An unhandled error occurred while Bolt processed an event'),
  exact('An unhandled error occurred after ack() called in a listener'),
  exact('ack() has already been called. Additional calls will be ignored and may lead to errors in other receivers.'),
  exact('stored response sent'),
  /^Listening for HTTP requests on port \d{1,5}$/,
];

/** fastify 5.12.8: lib/log-controller.js, lib/reply.js, lib/route.js, lib/head-route.js, lib/wrap-thenable.js, lib/server.js, fastify.js. */
export const fastifyMessages: readonly RegExp[] = [
  exact('incoming request'),
  exact('request completed'),
  exact('request errored'),
  exact('stream closed prematurely'),
  exact('response terminated with an error with headers already sent'),
  exact('The serializer for the given status code failed'),
  exact('request aborted - refusing to accept new requests as server is closing'),
  exact('Error on Stream found for HEAD route'),
  exact('onRequestAborted hook failed'),
  exact('Promise errored, but reply.sent = true was set'),
  exact('unhandled rejection on reply.then'),
  exact("response will send, but you shouldn't use res.writeHead in stream mode"),
  exact('stream payload does not end properly'),
  exact('Trying to send a NotFound error inside a 404 handler. Sending basic 404 response.'),
  /^client (?:error|timeout|header_overflow)$/,
  /^Server listening at https?:\/\/(?:[A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:.]{2,45}\]):\d{1,5}$/,
];
