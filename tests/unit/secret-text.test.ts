// Chat messages that look like a password or credentials are refused before anything reads them
// (host/fronts/secret-text.ts); questions about passwords and ordinary messages go through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeSecret } from '../../host/fronts/secret-text.js';

test('attack: credentials typed into chat are recognised', () => {
  for (const text of [
    'my netflix password is hunter2',
    'My master password is Correct-Horse-9',
    'password: s3cretpass',
    'netflix pwd=abc123',
    'the wifi passphrase is "open sesame"',
    'pin is 4711',
    'api key = 0123456789abcdef',
    'user alice pass s3cret!',
    'login: bob@example.com / pw: Winter2026',
    'here is my token xoxb-123456789012-abcdefghij',
    'sk-proj-abcdefghijklmnopqrstuvwxyz0123',
    'AKIAABCDEFGHIJKLMNOP',
    '-----BEGIN OPENSSH PRIVATE KEY-----',
    'Tr0ub4dor&3xyz',
    'C0rrect-Horse!',
    'netflix pw: hunter2',
    'my pass is s3cret99',
    'password - hunter2',
    'gmail password – hunter2',
  ]) {
    assert.equal(looksLikeSecret(text), true, text);
  }
});

test('questions about passwords and ordinary chat are not refused', () => {
  for (const text of [
    'what is my Netflix password',
    'what is my password for gmail?',
    'get my netflix password',
    'generate a password',
    'generate a password with 32 characters',
    'list my passwords',
    'my password is wrong',
    'the password is expired',
    'remind me tomorrow at 9 to renew the passport',
    'add a note: buy milk',
    'notes.list',
    'delete my account',
    'https://example.com/Path?x=1',
    'hello',
    '',
  ]) {
    assert.equal(looksLikeSecret(text), false, text);
  }
});
