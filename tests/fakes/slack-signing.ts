// Signs a request body the way Slack signs what it posts to an app's Request URL, so tests can
// drive a real Bolt HTTP receiver (or our own) with requests it must accept.
import { createHmac } from 'node:crypto';

// A type alias, not an interface, so that it can be passed where fetch wants Record<string, string>.
export type SlackSignedHeaders = {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
  'content-type': string;
};

/**
 * Slack's request signing (v0): `x-slack-signature` is `v0=` + hex HMAC-SHA256, keyed with the
 * app's signing secret, of `v0:<timestamp>:<raw body>`; `x-slack-request-timestamp` is the
 * timestamp in seconds. The content type follows the body, as Slack's does: JSON for Events API
 * bodies, form-urlencoded for slash commands and interactions. Sign the exact bytes you send.
 *
 * @example
 * const body = JSON.stringify(eventCallback({ text: 'hi' }));
 * await fetch(url, { method: 'POST', headers: signSlackRequest(secret, body), body });
 */
export function signSlackRequest(signingSecret: string, rawBody: string, timestampSeconds: number = Math.floor(Date.now() / 1000)): SlackSignedHeaders {
  const signature = createHmac('sha256', signingSecret).update(`v0:${timestampSeconds}:${rawBody}`).digest('hex');
  return {
    'x-slack-signature': `v0=${signature}`,
    'x-slack-request-timestamp': String(timestampSeconds),
    'content-type': rawBody.trimStart().startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded',
  };
}

// The payload builders live in slack-payloads.ts; re-exported so one import serves a signed request.
export { blockActions, blockActionsBody, eventCallback, slashCommand, slashCommandBody, viewSubmission, viewSubmissionBody } from './slack-payloads.js';
