import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultLimits, resolveLimits } from '../../host/sandbox/limits.js';
import { closestVariable, knownVariables, loadConfig as loadConfigFrom, readEnvironment, settingWarnings } from '../../host/config/config.js';
import { limitNames, limitRegistry } from '../../host/config/limits.js';
import { fromRoot } from '../../host/core/paths.js';
import { BulkheadError, isBulkheadError } from '../../host/core/errors.js';
import { tempDir } from '../helpers/fixtures.js';

const loadConfig = (env: Record<string, string>, cwd: string) => loadConfigFrom(readEnvironment(env, cwd), cwd);

test('defaults: ./data, aegis, 256 open files, 512 KiB page cache, 100,000 rows per query, 2 s busy wait; the result is frozen', () => {
  const config = loadConfig({}, '/srv/bulkhead');
  assert.equal(config.dataDir, '/srv/bulkhead/data');
  assert.deepEqual(config.store, { cipher: 'aegis', maxOpenFiles: 256, pageCacheKiB: 512, maxRowsExamined: 100_000, busyTimeoutMs: 2000, idleCloseSeconds: 60 });
  assert.deepEqual(config.dashboard, { publicUrl: undefined, sessionHours: 12, idleMinutes: 30, loginPerMinute: 10, invokePerMinute: 600, exportPerMinute: 10, vaultPerMinute: 10 });
  assert.equal(config.production, false);
  assert.deepEqual(config.account, { auditRetentionDays: 365, deletionGraceDays: 30, auditTap: undefined });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.store) && Object.isFrozen(config.dashboard) && Object.isFrozen(config.account));
});

test('BULKHEAD_PUBLIC_URL is an origin: a path, query or credentials are refused with a coded error', () => {
  assert.equal(loadConfig({ BULKHEAD_PUBLIC_URL: 'https://bulkhead.example.com/' }, '/srv').dashboard.publicUrl, 'https://bulkhead.example.com');
  assert.equal(loadConfig({ BULKHEAD_PUBLIC_URL: 'http://10.0.0.5:8080' }, '/srv').dashboard.publicUrl, 'http://10.0.0.5:8080');
  for (const value of ['https://bulkhead.example.com/dash', 'https://x.example?a=1', 'https://user:pw@x.example', 'ftp://x.example', 'not a url']) {
    assert.throws(
      () => loadConfig({ BULKHEAD_PUBLIC_URL: value }, '/srv'),
      (e: unknown) => e instanceof BulkheadError && e.code === 'BH_CONFIG_INVALID' && e.message.startsWith('BULKHEAD_PUBLIC_URL') && !e.message.includes('pw'),
      value,
    );
  }
  for (const [variable, bad] of [['BULKHEAD_SESSION_HOURS', '0'], ['BULKHEAD_SESSION_IDLE_MINUTES', 'soon'], ['BULKHEAD_LOGIN_PER_MINUTE', '-1'], ['BULKHEAD_INVOKE_PER_MINUTE', '1.5'], ['BULKHEAD_VAULT_PER_MINUTE', '0']] as const) {
    assert.throws(() => loadConfig({ [variable]: bad }, '/srv'), (e: unknown) => e instanceof BulkheadError && e.code === 'BH_CONFIG_INVALID', variable);
  }
});

test('the configuration holds no secret: keys stay in the environment read at start-up', () => {
  const key = 'ab'.repeat(32);
  const config = loadConfig({ BULKHEAD_MASTER_KEY: key, BULKHEAD_SIGNING_KEY: key }, '/srv/bulkhead');
  assert.ok(!JSON.stringify(config).includes(key));
});

test('settings come from the environment, which wins over .env.local; production ignores .env.local', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, '.env.local'), '# comment\nBULKHEAD_DATA_DIR=from-file\nexport BULKHEAD_STORE_CIPHER="chacha20"\n');
    const dev = loadConfig({ BULKHEAD_STORE_MAX_OPEN_FILES: '8' }, dir);
    assert.equal(dev.dataDir, path.join(dir, 'from-file'));
    assert.equal(dev.store.cipher, 'chacha20');
    assert.equal(dev.store.maxOpenFiles, 8);
    assert.equal(loadConfig({ BULKHEAD_DATA_DIR: '/var/lib/bh' }, dir).dataDir, '/var/lib/bh');
    const production = loadConfig({ NODE_ENV: 'production' }, dir);
    assert.equal(production.dataDir, path.join(dir, 'data'));
    assert.equal(production.store.cipher, 'aegis');
  } finally {
    cleanup();
  }
});

for (const [variable, value] of [
  ['BULKHEAD_STORE_CIPHER', 'rot13'],
  ['BULKHEAD_STORE_MAX_OPEN_FILES', '-5'],
  ['BULKHEAD_STORE_MAX_OPEN_FILES', '12abc'],
  ['BULKHEAD_STORE_PAGE_CACHE_KIB', '2'],
] as const) {
  test(`${variable}=${value} is refused naming the variable and the allowed values, not the value`, () => {
    assert.throws(
      () => loadConfig({ [variable]: value }, '/srv'),
      (e: unknown) => isBulkheadError(e, 'BH_CONFIG_INVALID') && e.message.startsWith(variable) && !e.message.includes(value),
    );
  });
}

test('chat settings: defaults, admins, URLs and LLM limits; tokens and API keys never enter the configuration', () => {
  const defaults = loadConfig({}, '/srv/bulkhead');
  assert.equal(defaults.chat.httpHost, '127.0.0.1');
  assert.equal(defaults.chat.httpPort, 3000);
  assert.equal(defaults.chat.admins.size, 0);
  assert.deepEqual({ ...defaults.chat.llm }, { baseURL: undefined, model: 'gpt-4o-mini', timeoutMs: 8000, maxRetries: 1 });
  assert.equal(defaults.logLevel, 'info');
  const secrets = { SLACK_BOT_TOKEN: 'xoxb-secret-bot', SLACK_APP_TOKEN: 'xapp-secret-app', SLACK_SIGNING_SECRET: 'signing-secret-x', OPENAI_API_KEY: 'sk-secret-key' };
  const config = loadConfig(
    {
      ...secrets,
      BULKHEAD_ADMINS: 'slack:T0123:U0456, console:alice',
      SLACK_API_URL: 'http://127.0.0.1:9999/api/',
      OPENAI_BASE_URL: 'http://127.0.0.1:8080/v1',
      BULKHEAD_LLM_TIMEOUT_MS: '2500',
      BULKHEAD_LOG_LEVEL: 'debug',
    },
    '/srv/bulkhead',
  );
  assert.deepEqual([...config.chat.admins], ['slack:T0123:U0456', 'console:alice']);
  assert.equal(config.chat.slackApiUrl, 'http://127.0.0.1:9999/api/');
  assert.equal(config.chat.llm.baseURL, 'http://127.0.0.1:8080/v1');
  assert.equal(config.chat.llm.timeoutMs, 2500);
  assert.equal(config.logLevel, 'debug');
  const text = JSON.stringify(config, (_key, value: unknown) => (value instanceof Set ? [...value] : value));
  for (const secret of Object.values(secrets)) assert.equal(text.includes(secret), false);
});

test('bad chat settings stop start-up naming the variable, never echoing the value', () => {
  const cases: [string, string][] = [
    ['BULKHEAD_ADMINS', 'slack:T0123'],
    ['BULKHEAD_ADMINS', "slack:T1:U1' OR 1=1"],
    ['SLACK_API_URL', 'file:///etc/passwd'],
    ['OPENAI_BASE_URL', 'not a url'],
    ['BULKHEAD_LLM_TIMEOUT_MS', '5'],
    ['BULKHEAD_LLM_MAX_RETRIES', '9'],
    ['BULKHEAD_HTTP_PORT', '70000'],
    ['BULKHEAD_LOG_LEVEL', 'verbose'],
  ];
  for (const [variable, value] of cases) {
    assert.throws(
      () => loadConfig({ [variable]: value }, '/srv/bulkhead'),
      (e) => isBulkheadError(e) && e.code === 'BH_CONFIG_INVALID' && e.message.startsWith(variable) && !e.message.includes(value),
      `${variable}=${value}`,
    );
  }
});

test('BULKHEAD_DEFAULT_TZ: UTC by default, an IANA zone as written, anything else refused without echoing it', () => {
  assert.equal(loadConfig({}, '/srv/bulkhead').defaultTimeZone, 'UTC');
  assert.equal(loadConfig({ BULKHEAD_DEFAULT_TZ: 'Asia/Kolkata' }, '/srv/bulkhead').defaultTimeZone, 'Asia/Kolkata');
  assert.equal(loadConfig({ BULKHEAD_DEFAULT_TZ: ' America/New_York ' }, '/srv/bulkhead').defaultTimeZone, 'America/New_York');
  for (const value of ['Mars/Olympus_Mons', 'EST-but-not', 'Europe/Berlin; rm -rf']) {
    assert.throws(
      () => loadConfig({ BULKHEAD_DEFAULT_TZ: value }, '/srv/bulkhead'),
      (e) => isBulkheadError(e, 'BH_CONFIG_INVALID') && e.message.startsWith('BULKHEAD_DEFAULT_TZ must be an IANA time zone name') && !e.message.includes(value),
      value,
    );
  }
});

test('every manifest limit has an operator ceiling: a manifest asking for more gets the ceiling', () => {
  const config = loadConfig(
    {
      BULKHEAD_LIMIT_TIMEOUT_MS: '500',
      BULKHEAD_LIMIT_MEMORY_MIB: '8',
      BULKHEAD_LIMIT_INPUT_BYTES: '1000',
      BULKHEAD_LIMIT_OUTPUT_BYTES: '2000',
      BULKHEAD_LIMIT_QUERIES_PER_CALL: '10',
      BULKHEAD_LIMIT_REPLIES_PER_CALL: '2',
      BULKHEAD_LIMIT_STORE_MIB: '4',
    },
    '/srv/bulkhead',
  );
  const greedy = { timeoutMs: 60_000, memoryMiB: 4096, maxInputBytes: 16_777_216, maxOutputBytes: 16_777_216, maxQueriesPerCall: 100_000, maxRepliesPerCall: 1000, storeMiB: 65_536 };
  assert.deepEqual(resolveLimits(greedy, config.plugins.caps), {
    timeoutMs: 500,
    memoryMiB: 8,
    maxInputBytes: 1000,
    maxOutputBytes: 2000,
    maxQueriesPerCall: 10,
    maxRepliesPerCall: 2,
    storeMiB: 4,
  });
  // Every limit a manifest can set has its ceiling (a new limit without one fails here).
  assert.deepEqual(Object.keys(config.plugins.caps).sort(), Object.keys(defaultLimits).sort());
  assert.throws(() => loadConfig({ BULKHEAD_LIMIT_STORE_MIB: '0' }, '/srv/bulkhead'), /BULKHEAD_LIMIT_STORE_MIB/);
});

test('knownVariables lists every BULKHEAD_ name the configuration, the limits and the keys read', () => {
  const known = new Set(knownVariables);
  for (const file of [['host', 'config', 'config.ts'], ['host', 'config', 'data-dir.ts'], ['host', 'keys', 'load-keys.ts']]) {
    const source = readFileSync(fromRoot(...file), 'utf8');
    for (const [, name] of source.matchAll(/['"`](BULKHEAD_[A-Z_]+)['"`]/g)) assert.ok(known.has(name as string), `${file.join('/')} reads ${name}, which is not in knownVariables`);
  }
  for (const name of limitNames) {
    const variable = limitRegistry[name].env;
    if (variable !== undefined) assert.ok(known.has(variable), variable);
  }
  for (const variable of ['BULKHEAD_MASTER_KEY', 'BULKHEAD_MASTER_KEY_FILE', 'BULKHEAD_SIGNING_KEY', 'BULKHEAD_SIGNING_KEY_FILE', 'BULKHEAD_DATA_DIR', 'BULKHEAD_LOG_LEVEL']) assert.ok(known.has(variable), variable);
  assert.equal(known.size, knownVariables.length, 'no name twice');
});

test('closestVariable: within 3 edits or a long shared prefix, case ignored; nothing when nothing is close', () => {
  assert.equal(closestVariable('BULKHEAD_WORKER'), 'BULKHEAD_WORKERS');
  assert.equal(closestVariable('BULKHEAD_MASTERKEY'), 'BULKHEAD_MASTER_KEY');
  assert.equal(closestVariable('bulkhead_data_dir'), 'BULKHEAD_DATA_DIR');
  assert.equal(closestVariable('BULKHEAD_STORE_PAGE_CACHE'), 'BULKHEAD_STORE_PAGE_CACHE_KIB');
  assert.equal(closestVariable('BULKHEAD_COMPLETELY_DIFFERENT'), undefined);
  assert.equal(closestVariable('BULKHEAD_X'), undefined);
});

test('settingWarnings names misspelled variables and where they are set, never their values; NODE_ENV outside production, development and test is warned about', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, '.env.local'), 'BULKHEAD_WORKER=file-value-1\nBULKHEAD_WORKERS=2\n');
    const warnings = settingWarnings(readEnvironment({ BULKHEAD_LOG_LEVL: 'env-value-2', BULKHEAD_HTTP_PORT: '1', NODE_ENV: 'prod' }, dir));
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.ok(warnings.includes('BULKHEAD_LOG_LEVL is not a Bulkhead setting; did you mean BULKHEAD_LOG_LEVEL?'));
    assert.ok(warnings.includes('BULKHEAD_WORKER (set in .env.local) is not a Bulkhead setting; did you mean BULKHEAD_WORKERS?'));
    assert.ok(warnings.some((w) => w.startsWith('NODE_ENV is set to something other than production')));
    assert.ok(!warnings.join('\n').includes('value'));
    for (const nodeEnv of ['production', 'development', 'test', '']) assert.deepEqual(settingWarnings(readEnvironment({ NODE_ENV: nodeEnv }, '/nonexistent')), [], nodeEnv);
    // Production ignores .env.local, so nothing there is warned about.
    assert.deepEqual(settingWarnings(readEnvironment({ NODE_ENV: 'production' }, dir)), []);
  } finally {
    cleanup();
  }
});

test('readEnvironment records which values came from .env.local (fromFile); the real environment wins and is never in it', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, '.env.local'), 'BULKHEAD_MASTER_KEY=aa\nBULKHEAD_WORKERS=2\n');
    const environment = readEnvironment({ BULKHEAD_WORKERS: '3' }, dir);
    assert.deepEqual([...environment.fromFile], ['BULKHEAD_MASTER_KEY']);
    assert.equal(environment.vars['BULKHEAD_WORKERS'], '3');
    assert.deepEqual([...readEnvironment({ NODE_ENV: 'production' }, dir).fromFile], []);
  } finally {
    cleanup();
  }
});
