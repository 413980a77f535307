import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AppError } from '../../src-shared/errors.js';
import {
  CredentialStore,
  createBackendKeyResolver,
  environmentVariableFor,
  keyHint,
  normalizeBaseUrl,
  type CredentialStoreOptions,
} from './credential-store.js';
import type { SecretVault } from './secret-vault.js';

const openAIKey = 'sk-proj-SECRETVALUE-openai-0123456789abcdef';
const localKey = 'local-SECRETVALUE-server-key-wxyz';

let root: string;
let workingDirectory: string;
let homeDirectory: string;
let configDir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'clemplay-credentials-'));
  workingDirectory = join(root, 'work');
  homeDirectory = join(root, 'home');
  configDir = join(root, 'config');
  await mkdir(workingDirectory, { recursive: true });
  await mkdir(join(homeDirectory, '.clemcore'), { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function makeStore(options: Partial<CredentialStoreOptions> = {}): CredentialStore {
  return new CredentialStore({ workingDirectory, homeDirectory, configDir, environment: {}, ...options });
}

function scramble(bytes: Buffer): Buffer {
  return Buffer.from(bytes.map((byte) => byte ^ 0x5a));
}

/** A stand-in for Electron's safeStorage: reversible, but the plain text never appears in what it makes. */
class FakeVault implements SecretVault {
  available = true;
  failDecrypt = false;
  isAvailable(): boolean {
    return this.available;
  }
  unavailableReason(): string {
    return 'no keyring is running';
  }
  encrypt(text: string): Buffer {
    return Buffer.from(`vault:${scramble(Buffer.from(text, 'utf8')).toString('hex')}`, 'utf8');
  }
  decrypt(buffer: Buffer): string {
    const text = buffer.toString('utf8');
    if (this.failDecrypt || !text.startsWith('vault:')) throw new Error(`cannot decrypt ${text}`);
    return scramble(Buffer.from(text.slice('vault:'.length), 'hex')).toString('utf8');
  }
}

async function writeKeyJson(where: 'cwd' | 'home', content: unknown): Promise<string> {
  const path = where === 'cwd' ? join(workingDirectory, 'key.json') : join(homeDirectory, '.clemcore', 'key.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

describe('environmentVariableFor', () => {
  it.each([
    ['openai', 'OPENAI_API_KEY'],
    ['openai_compatible', 'OPENAI_COMPATIBLE_API_KEY'],
    ['my-backend.v2', 'MY_BACKEND_V2_API_KEY'],
  ])('%s reads %s', (backend, variable) => {
    expect(environmentVariableFor(backend)).toBe(variable);
  });
});

describe('helpers', () => {
  it('normalizes base URLs so that spellings of one server meet', () => {
    expect(normalizeBaseUrl(' http://127.0.0.1:8080/v1/ ')).toBe('http://127.0.0.1:8080/v1');
    expect(normalizeBaseUrl('HTTP://User:Pass@Example.COM:80/v1?x=1#y')).toBe('http://example.com/v1');
  });

  it('hints at most the last 4 characters, and nothing of short keys', () => {
    expect(keyHint(openAIKey)).toBe('…cdef');
    expect(keyHint('none')).toBe('…');
  });
});

describe('CredentialStore lookup order', () => {
  it('has no key when no source has one', async () => {
    const store = makeStore();
    expect(await store.get('openai')).toBeUndefined();
    expect(await store.status('openai')).toEqual({
      backend: 'openai',
      set: false,
      source: null,
      location: null,
      hint: null,
      storage: 'config-file',
      warnings: [],
    });
  });

  it('takes the environment over key.json over credentials.json', async () => {
    const fileStore = makeStore();
    await fileStore.set('openai', 'sk-from-credentials-file-1111');
    expect(await fileStore.get('openai')).toBe('sk-from-credentials-file-1111');

    const homePath = await writeKeyJson('home', { openai: { api_key: 'sk-from-home-key-json-2222' } });
    expect(await fileStore.get('openai')).toBe('sk-from-home-key-json-2222');
    expect((await fileStore.status('openai')).location).toBe(homePath);

    const cwdPath = await writeKeyJson('cwd', { openai: { api_key: 'sk-from-cwd-key-json-3333' } });
    expect(await fileStore.get('openai')).toBe('sk-from-cwd-key-json-3333');
    expect(await fileStore.status('openai')).toMatchObject({ source: 'key-json', location: cwdPath, hint: '…3333' });
    // A packaged app has no working directory (it starts in `/`): only ~/.clemcore/key.json counts there.
    expect(await makeStore({ workingDirectory: null }).get('openai')).toBe('sk-from-home-key-json-2222');

    const environmentStore = makeStore({ environment: { OPENAI_API_KEY: ' sk-from-environment-4444\n' } });
    expect(await environmentStore.get('openai', 'https://api.openai.com/v1')).toBe('sk-from-environment-4444');
    expect(await environmentStore.status('openai')).toMatchObject({
      source: 'environment',
      location: 'OPENAI_API_KEY',
      hint: '…4444',
    });
  });

  it('takes the OS key store over the environment, in the app', async () => {
    const vault = new FakeVault();
    const store = makeStore({ vault, environment: { OPENAI_API_KEY: 'sk-from-environment-4444' } });
    await store.set('openai', openAIKey);
    expect(await store.get('openai')).toBe(openAIKey);
    expect(await store.status('openai')).toMatchObject({ source: 'safe-storage', storage: 'safe-storage' });
  });

  it('reads a key.json saved with a byte-order mark', async () => {
    await writeKeyJson('cwd', `\uFEFF${JSON.stringify({ openai: { api_key: openAIKey } })}`);
    expect(await makeStore().get('openai')).toBe(openAIKey);
  });

  it('ignores empty values, as in clemcore key.json template', async () => {
    await writeKeyJson('cwd', { openai: { organisation: '', api_key: '' }, anthropic: { api_key: '' } });
    await writeKeyJson('home', { openai: { api_key: 'sk-from-home-key-json-2222' } });
    const store = makeStore({ environment: { OPENAI_API_KEY: '  ' } });
    expect(await store.get('openai')).toBe('sk-from-home-key-json-2222');
  });

  it('prefers a key filed for the exact base URL, whatever source has the backend-wide one', async () => {
    const store = makeStore({ environment: { OPENAI_COMPATIBLE_API_KEY: 'backend-wide-key-aaaa' } });
    await store.set('openai_compatible', localKey, 'http://127.0.0.1:8080/v1/');
    expect(await store.get('openai_compatible', 'http://127.0.0.1:8080/v1')).toBe(localKey);
    expect(await store.get('openai_compatible', 'http://127.0.0.1:9999/v1')).toBe('backend-wide-key-aaaa');
    expect(await store.get('openai_compatible')).toBe('backend-wide-key-aaaa');
    expect(await store.status('openai_compatible', 'http://127.0.0.1:8080/v1/')).toMatchObject({
      baseUrl: 'http://127.0.0.1:8080/v1',
      source: 'config-file',
      hint: '…wxyz',
    });
  });

  it('never sends a key filed for one server to another', async () => {
    const store = makeStore();
    await store.set('openai_compatible', localKey, 'http://127.0.0.1:8080/v1');
    expect(await store.get('openai_compatible', 'http://evil.example/v1')).toBeUndefined();
    expect(await store.get('openai_compatible')).toBeUndefined();
  });

  it("reads clemcore's openai_compatible entry: its key belongs to its base_url", async () => {
    await writeKeyJson('cwd', {
      openai: { organisation: 'org-123', api_key: openAIKey },
      openai_compatible: { api_key: localKey, base_url: 'https://api.together.xyz/v1' },
    });
    const store = makeStore();
    expect(await store.getConnection('openai_compatible')).toEqual({ baseUrl: 'https://api.together.xyz/v1' });
    expect(await store.getConnection('openai')).toEqual({ organization: 'org-123' });
    expect(await store.getConnection('human')).toEqual({});
    expect(await store.get('openai_compatible')).toBe(localKey);
    expect(await store.get('openai_compatible', 'https://api.together.xyz/v1/')).toBe(localKey);
    expect(await store.get('openai_compatible', 'http://127.0.0.1:8080/v1')).toBeUndefined();
  });

  it('reads the older generic_openai_compatible name, after the current one', async () => {
    await writeKeyJson('home', {
      generic_openai_compatible: { api_key: 'generic-key-1111', base_url: 'http://old.example/v1' },
    });
    const store = makeStore();
    expect(await store.get('openai_compatible')).toBe('generic-key-1111');
    expect(await store.getConnection('openai_compatible')).toEqual({ baseUrl: 'http://old.example/v1' });
    await writeKeyJson('home', {
      generic_openai_compatible: { api_key: 'generic-key-1111', base_url: 'http://old.example/v1' },
      openai_compatible: { api_key: 'current-key-2222', base_url: 'http://new.example/v1' },
    });
    expect(await store.get('openai_compatible')).toBe('current-key-2222');
    expect(await store.getConnection('openai_compatible')).toEqual({ baseUrl: 'http://new.example/v1' });
  });

  it('answers for backends through createBackendKeyResolver', async () => {
    const getApiKey = createBackendKeyResolver(makeStore({ environment: { OPENAI_API_KEY: openAIKey } }));
    const openai = { backend: 'openai', baseUrl: 'https://api.openai.com/v1', originTrusted: true };
    expect(await getApiKey(openai)).toEqual({ apiKey: openAIKey });
    expect(await getApiKey({ ...openai, backend: 'openai_compatible' })).toEqual({ apiKey: undefined });
  });
});

describe('CredentialStore writes', () => {
  it('writes credentials.json with mode 0600 when there is no OS key store', async () => {
    const store = makeStore();
    const status = await store.set('openai', `  ${openAIKey}\n`);
    expect(status).toMatchObject({ set: true, source: 'config-file', hint: '…cdef', storage: 'config-file' });
    expect((await stat(store.credentialsPath)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(store.credentialsPath, 'utf8'))).toEqual({
      version: 1,
      keys: [{ backend: 'openai', api_key: openAIKey }],
    });
    // Replacing a slot keeps one entry for it.
    await store.set('openai', 'sk-replacement-key-9999');
    expect(await store.get('openai')).toBe('sk-replacement-key-9999');
    const file = JSON.parse(await readFile(store.credentialsPath, 'utf8')) as { keys: unknown[] };
    expect(file.keys).toHaveLength(1);
  });

  it.skipIf(process.platform === 'win32')(
    'warns when others can read credentials.json and repairs the mode at the next write',
    async () => {
      const store = makeStore();
      await store.set('openai', openAIKey);
      await chmod(store.credentialsPath, 0o644);
      const status = await store.status('openai');
      expect(status.set).toBe(true);
      expect(status.warnings).toHaveLength(1);
      expect(status.warnings[0]).toContain('mode 0644');
      expect(status.warnings[0]).toContain(store.credentialsPath);
      await store.set('openai_compatible', localKey);
      expect((await stat(store.credentialsPath)).mode & 0o777).toBe(0o600);
      expect((await store.status('openai')).warnings).toEqual([]);
    },
  );

  it('keeps keys in the OS key store encrypted', async () => {
    const vault = new FakeVault();
    const store = makeStore({ vault });
    await store.set('openai', openAIKey);
    const vaultText = await readFile(store.vaultPath, 'utf8');
    expect(vaultText).not.toContain(openAIKey);
    expect(vaultText).not.toContain('SECRETVALUE');
    expect((await stat(store.vaultPath)).mode & 0o777).toBe(0o600);
    // Nothing in plain text where there was none.
    expect(existsSync(store.credentialsPath)).toBe(false);
    expect(await store.get('openai')).toBe(openAIKey);
  });

  it("replacing a key in the app keeps the CLI's plain-text copy working: it gets the new key too", async () => {
    // The CLI and the web host share the config folder, and cannot read what the OS key store encrypted.
    const cliStore = makeStore();
    await cliStore.set('openai', 'sk-old-plain-text-key-0000');
    await cliStore.set('openai_compatible', 'sk-other-backend-key-1111');
    const appStore = makeStore({ vault: new FakeVault() });
    await appStore.set('openai', openAIKey);
    expect(await appStore.get('openai')).toBe(openAIKey);
    expect(await cliStore.get('openai')).toBe(openAIKey);
    expect(await cliStore.get('openai_compatible')).toBe('sk-other-backend-key-1111');
    expect(await readFile(cliStore.credentialsPath, 'utf8')).not.toContain('sk-old-plain-text-key-0000');
    expect((await stat(cliStore.credentialsPath)).mode & 0o777).toBe(0o600);
  });

  it('says where keys go, and why, when the OS key store cannot be used (Linux without a keyring)', async () => {
    const vault = new FakeVault();
    vault.available = false;
    const store = makeStore({ vault });
    const status = await store.set('openai', openAIKey);
    expect(status).toMatchObject({ set: true, source: 'config-file', storage: 'config-file' });
    expect(status.warnings).toEqual([
      `Keys are saved in ${store.credentialsPath} (mode 0600), not encrypted: no keyring is running.`,
    ]);
    expect(await makeStore().get('openai')).toBe(openAIKey);
  });

  it('says so when the key store of the desktop app cannot be used here', async () => {
    const vault = new FakeVault();
    await makeStore({ vault }).set('openai', openAIKey);
    vault.available = false;
    const status = await makeStore({ vault }).status('openai');
    expect(status).toMatchObject({ set: false, storage: 'config-file' });
    expect(status.warnings[0]).toContain('encrypted');
  });

  it('clears only what clemplay stored, and reports a key still coming from elsewhere', async () => {
    const vault = new FakeVault();
    const store = makeStore({ vault, environment: { OPENAI_API_KEY: 'sk-from-environment-4444' } });
    await store.set('openai', openAIKey);
    const cleared = await store.clear('openai');
    expect(cleared).toMatchObject({ set: true, source: 'environment', location: 'OPENAI_API_KEY' });
    expect(await makeStore({ vault }).get('openai')).toBeUndefined();
    // Clearing what is not there changes nothing and does not fail.
    expect(await makeStore().clear('openai_compatible', 'http://127.0.0.1:8080/v1')).toMatchObject({ set: false });
  });

  it('clears one base URL slot without touching the backend-wide key', async () => {
    const store = makeStore();
    await store.set('openai_compatible', 'backend-wide-key-aaaa');
    await store.set('openai_compatible', localKey, 'http://127.0.0.1:8080/v1');
    await store.clear('openai_compatible', 'http://127.0.0.1:8080/v1/');
    expect(await store.get('openai_compatible', 'http://127.0.0.1:8080/v1')).toBe('backend-wide-key-aaaa');
  });

  it('lists the known backends and every slot that has a key', async () => {
    await writeKeyJson('home', { anthropic: { api_key: 'anthropic-key-5555' } });
    const store = makeStore();
    await store.set('openai_compatible', localKey, 'http://127.0.0.1:8080/v1');
    const statuses = await store.status();
    expect(statuses.map((status) => [status.backend, status.baseUrl, status.set, status.source])).toEqual([
      ['openai', undefined, false, null],
      ['openai_compatible', undefined, false, null],
      ['anthropic', undefined, true, 'key-json'],
      ['openai_compatible', 'http://127.0.0.1:8080/v1', true, 'config-file'],
    ]);
  });

  it.each([
    ['a bad backend name', (store: CredentialStore) => store.set('../openai', openAIKey)],
    ['an empty key', (store: CredentialStore) => store.set('openai', '   ')],
    ['a key with a line break', (store: CredentialStore) => store.set('openai', `${openAIKey}\nX-Evil: 1`)],
    ['a key with a space', (store: CredentialStore) => store.set('openai', `sk-proj ${openAIKey}`)],
    ['a base URL that is not http', (store: CredentialStore) => store.set('openai', openAIKey, 'file:///etc/x')],
    ['a base URL that is not a URL', (store: CredentialStore) => store.set('openai', openAIKey, 'localhost')],
  ])('refuses %s with invalid-input, writing nothing', async (_name, call) => {
    const store = makeStore();
    await expect(call(store)).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(stat(store.credentialsPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to overwrite a broken credentials.json, which is left as it was', async () => {
    const store = makeStore();
    await mkdir(configDir, { recursive: true });
    const broken = '{\n  "version": 1,\n  "keys": [ {"backend": "openai", "api_key": "sk-x"} \n';
    await writeFile(store.credentialsPath, broken);
    await expect(store.set('openai', openAIKey)).rejects.toMatchObject({ code: 'invalid-input' });
    expect(await readFile(store.credentialsPath, 'utf8')).toBe(broken);
  });

  it('leaves credentials.json as it was when a write dies before the rename', async () => {
    await makeStore().set('openai', 'sk-first-key-before-crash-1111');
    const before = await readFile(join(configDir, 'credentials.json'), 'utf8');
    const crashing = makeStore({ beforeRename: () => Promise.reject(new Error('simulated crash')) });
    await expect(crashing.set('openai', openAIKey)).rejects.toMatchObject({ code: 'internal' });
    expect(await readFile(join(configDir, 'credentials.json'), 'utf8')).toBe(before);
    expect(await makeStore().get('openai')).toBe('sk-first-key-before-crash-1111');
  });

  it('runs concurrent writes one after another, losing none', async () => {
    const store = makeStore();
    await Promise.all(
      Array.from({ length: 8 }, (_, index) => store.set(`backend-${index}`, `key-number-${index}-abcdefgh`)),
    );
    for (let index = 0; index < 8; index++) {
      expect(await store.get(`backend-${index}`)).toBe(`key-number-${index}-abcdefgh`);
    }
  });
});

describe('CredentialStore with broken sources', () => {
  it('names the file, line and column of broken JSON in key.json', async () => {
    const path = await writeKeyJson('cwd', '{\n  "openai": {\n    "api_key": sk-unquoted\n  }\n}\n');
    const store = makeStore();
    const error = await store.get('openai').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid-input');
    expect((error as AppError).message).toBe(
      `The clemcore key file ${path} is not valid JSON at line 3, column 16. Fix it there, or remove the file.`,
    );
    expect((error as AppError).details).toEqual({ path, line: 3, column: 16 });
  });

  it('still finds a key in another source, and reports the broken file in the status', async () => {
    const path = await writeKeyJson('cwd', '{ "openai": ');
    const store = makeStore({ environment: { OPENAI_API_KEY: openAIKey } });
    expect(await store.get('openai')).toBe(openAIKey);
    const status = await store.status('openai');
    expect(status.set).toBe(true);
    expect(status.warnings).toHaveLength(1);
    expect(status.warnings[0]).toContain(path);
  });

  it('reports a key.json that cannot be read', async () => {
    await mkdir(join(workingDirectory, 'key.json'));
    await expect(makeStore().get('openai')).rejects.toThrow(/Cannot read the clemcore key file .*folder/);
  });

  it('reports a credentials.json of the wrong shape with the key path', async () => {
    const store = makeStore();
    await mkdir(configDir, { recursive: true });
    await writeFile(store.credentialsPath, JSON.stringify({ version: 1, keys: [{ backend: 'openai', api_key: 7 }] }));
    await expect(store.get('openai')).rejects.toThrow(/credentials file .* at keys\.0\.api_key: Invalid input/);
  });
});

describe('keys never leak', () => {
  it('appear in no status, error message, error detail or warning on any error path', async () => {
    const vault = new FakeVault();
    const seen: unknown[] = [];
    const record = async (call: () => Promise<unknown>): Promise<void> => {
      try {
        seen.push(await call());
      } catch (error) {
        expect(error).toBeInstanceOf(AppError);
        const appError = error as AppError;
        seen.push(appError.message, appError.details, appError.stack, appError.toShape());
      }
    };

    // The key in broken JSON of each file clemplay reads.
    await writeKeyJson('cwd', `{"openai": {"api_key": ${openAIKey}}}`);
    await writeKeyJson('home', `{"openai": {"api_key": "${openAIKey}",}}`);
    const plain = makeStore();
    await mkdir(configDir, { recursive: true });
    await writeFile(plain.credentialsPath, `{"version": 1, "keys": [{"backend": "openai", "api_key": ${openAIKey}]}`);
    await writeFile(join(configDir, 'credentials-vault.json'), `{"version": 1, "keys": "${openAIKey}"}`);
    const broken = makeStore({ vault });
    await record(() => broken.get('openai'));
    await record(() => broken.status('openai'));
    await record(() => broken.status());
    await record(() => broken.getConnection('openai'));
    await record(() => broken.set('openai', openAIKey));
    await record(() => broken.clear('openai'));

    // The key in valid JSON of the wrong shape.
    await writeFile(
      plain.credentialsPath,
      JSON.stringify({ version: 2, keys: [{ backend: 'x', api_key: openAIKey }] }),
    );
    await writeFile(join(configDir, 'credentials-vault.json'), JSON.stringify({ version: 1, keys: [openAIKey] }));
    await record(() => broken.get('openai'));
    await record(() => broken.status());
    await rm(configDir, { recursive: true });

    // Keys refused by set.
    const store = makeStore({ vault, environment: { OPENAI_API_KEY: openAIKey } });
    await record(() => store.set('openai', `${openAIKey}\n`.repeat(2)));
    await record(() => store.set('openai', `${openAIKey} ${openAIKey}`));
    await record(() => store.set('openai', openAIKey.repeat(1000)));
    await record(() => store.set('openai', openAIKey, `${openAIKey}`));
    await record(() => store.set(`${openAIKey}/openai`, openAIKey));
    await record(() => store.clear(`../${openAIKey}`));

    // A key store that cannot decrypt, or encrypt.
    await rm(join(workingDirectory, 'key.json'));
    await rm(join(homeDirectory, '.clemcore', 'key.json'));
    await record(() => store.set('openai_compatible', localKey));
    vault.failDecrypt = true;
    await record(() => makeStore({ vault }).get('openai_compatible'));
    await record(() => makeStore({ vault }).status());
    const failingVault = new FakeVault();
    failingVault.encrypt = () => {
      throw new Error(`cannot encrypt ${openAIKey}`);
    };
    await record(() => makeStore({ vault: failingVault }).set('openai', openAIKey));

    // A config folder that cannot be read, and a write that fails.
    const blocked = join(root, 'blocked');
    await writeFile(blocked, '');
    await record(() => makeStore({ configDir: join(blocked, 'clemplay') }).set('openai', openAIKey));
    const failing = makeStore({
      beforeRename: () => Promise.reject(new Error(`disk trouble while writing ${openAIKey}`)),
    });
    await record(() => failing.set('openai', openAIKey));
    // Statuses of keys that are set.
    await record(() => store.status('openai'));
    await record(() => store.status());

    expect(seen.length).toBeGreaterThan(20);
    const everything = JSON.stringify(seen);
    expect(everything).not.toContain(openAIKey);
    expect(everything).not.toContain(localKey);
    expect(everything).not.toContain('SECRETVALUE');
    // The error paths were really taken.
    expect(everything).toContain('not valid JSON');
    expect(everything).toContain('not in the expected form');
    expect(everything).toContain('could not be decrypted');
    expect(everything).toContain('could not encrypt');
    expect(everything).toContain('Could not write');
    expect(everything).toContain('line breaks');
  });
});
