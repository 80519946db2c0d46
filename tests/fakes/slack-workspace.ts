// The one fake Slack workspace every fake agrees on, so that the bot user that `auth.test` names is
// the one that `authorizations` and Socket Mode's `hello` name too. Ids have Slack's shapes
// (T team, U user, B bot, A app, D direct-message channel, C channel).

/** Ids and tokens of the fake workspace. Override any of them per fake through its options. */
export interface FakeSlackWorkspace {
  teamId: string;
  teamDomain: string;
  teamName: string;
  /** The bot's user id (what Bolt calls botUserId; `auth.test` returns it as `user_id`). */
  botUserId: string;
  botUserName: string;
  botId: string;
  appId: string;
  /** Bot token, sent by Bolt and @slack/web-api as `Authorization: Bearer xoxb-...`. */
  botToken: string;
  /** App-level token, the only token `apps.connections.open` accepts. */
  appToken: string;
  /** The deprecated verification token Slack still puts in every payload's `token` field. */
  verificationToken: string;
}

export const fakeWorkspace: Readonly<FakeSlackWorkspace> = Object.freeze({
  teamId: 'T0FAKE0001',
  teamDomain: 'bulkhead-fake',
  teamName: 'Bulkhead Fake',
  botUserId: 'U0FAKEBOT1',
  botUserName: 'bulkhead',
  botId: 'B0FAKEBOT1',
  appId: 'A1',
  botToken: 'xoxb-1000-2000-fakebottoken',
  appToken: 'xapp-1-A1-3000-fakeapptoken',
  verificationToken: 'fakeverificationtoken0001',
});

let sequence = 0;

/** A Slack message timestamp, `seconds.micro-ish`: unique and increasing within the process, as Slack's are per channel. */
export function nextMessageTs(): string {
  sequence += 1;
  return `${Math.floor(Date.now() / 1000)}.${String(sequence % 1_000_000).padStart(6, '0')}`;
}

/** A Slack-shaped id with the given prefix (`V` for views, `D` for IM channels, `Ev` for events). */
export function nextId(prefix: string): string {
  sequence += 1;
  return `${prefix}0FAKE${String(sequence).padStart(5, '0')}`;
}
