/**
 * Does a chat message look like a password or other credentials? Such a message is refused
 * before anything reads it (the router, a model, a plugin, a log line): secrets are typed only
 * into private forms (`/bulkhead secret <plugin>`, `/bulkhead vault`, the dashboard, the console
 * prompt). A question about a password ("what is my Netflix password") is not a password.
 *
 * Heuristics, tuned to refuse too much rather than too little where it is cheap to rephrase:
 * - a secret word followed by a value: "my password is hunter2", "pin: 1234", "api key = ...";
 * - a login and a password together: "user alice pass s3cret";
 * - a well-known token format (Slack, OpenAI, AWS, GitHub keys, PEM private keys);
 * - a message that is one long token mixing letters, digits and symbols, as a master password
 *   typed into the wrong box would be.
 */

const secretWord = String.raw`(?:master\s*)?(?:password|passwort|passwd|pass\s*phrase|passphrase|passcode|pwd|pw|pass|pin(?:\s*code)?|secret|api[\s_-]?key|access[\s_-]?key|token|credentials?)`;
/** A secret word, then "is/was/=/:", then a value that is not an ordinary word of a question. */
const statedSecret = new RegExp(String.raw`\b${secretWord}\s*(?:(?:is|was|will be|should be)\b|[:=]|->|[-\u2013\u2014](?=\s))\s*["'\u201c]?([^\s"'\u201d]{3,})`, 'giu');
/** "user alice pass s3cret", "login: bob / pw: x1" */
const loginAndPassword = /\b(?:user(?:name)?|login|e-?mail)\b\s*[:=]?\s*\S+[\s,/;]+(?:and\s+)?(?:password|pass|pwd|pw)\b\s*[:=]?\s*\S{3,}/iu;
const tokenFormats = [
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/u,
  /\bxapp-\d-[A-Za-z0-9-]{10,}/u,
  /\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}/u,
  /\bAKIA[0-9A-Z]{16}\b/u,
  /\bgh[pousr]_[A-Za-z0-9]{30,}/u,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/u,
];
/** Words after "password is" that make it a sentence about a password, not the password. */
const ordinaryWords = new Set(
  'a an the this that it its my your his her our their not no too so very wrong right correct incorrect invalid expired weak strong long short ok okay fine good bad required needed missing reset changed set saved stored same different what where which how why when who for of in on to at from with there here gone lost forgotten locked out safe secure unknown'.split(' '),
);

export function looksLikeSecret(text: string): boolean {
  const message = text.trim();
  if (message.length === 0) return false;
  for (const match of message.matchAll(statedSecret)) {
    const value = (match[1] ?? '').toLowerCase().replace(/[.,!?;]+$/u, '');
    if (value.length >= 3 && !ordinaryWords.has(value)) return true;
  }
  if (loginAndPassword.test(message)) return true;
  if (tokenFormats.some((format) => format.test(message))) return true;
  return looksLikeLonePassword(message);
}

/** One token of 10 to 128 characters with at least three of: lower case, upper case, digits, symbols. */
function looksLikeLonePassword(message: string): boolean {
  if (/\s/u.test(message) || message.length < 10 || message.length > 128) return false;
  if (/^[a-z][a-z0-9+.-]*:\/\//iu.test(message)) return false;
  const classes = [/[a-z]/u, /[A-Z]/u, /[0-9]/u, /[^A-Za-z0-9]/u].filter((kind) => kind.test(message)).length;
  return classes >= 3;
}
