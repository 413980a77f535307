// A child process for the cross-process write tests: it hammers one file through the real code and prints one line
// per acknowledged write, so the parent can check that none of them is lost. Run with `node --import tsx`.
//
//   counter  FILE  COUNT                 increments {"count"} in FILE under withFileLock, COUNT times
//   registry DIR   NAME COUNT            appends COUNT entries (NAME-0, NAME-1, …) to DIR/model_registry.json
//   credentials DIR NAME COUNT           sets COUNT keys (backend NAME-0, NAME-1, …) in DIR/credentials.json
//   settings DIR   NAME COUNT            adds COUNT trusted origins (http://NAME-i.test) to DIR/settings.json
//   session  DIR   NAME COUNT            appends COUNT messages to the session chat-1 in DIR (a data folder), conflict-checked
//   backup   FILE  BYTES                 saves FILE with a .bak over and over, each version BYTES long, until killed
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../src-shared/errors.js';
import { SessionStore } from '../conversation/session-store.js';
import { CredentialStore } from '../credentials/credential-store.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { withFileLock } from '../files/file-lock.js';
import { RegistryStack } from '../registry/registry-stack.js';
import { SettingsStore } from '../settings/settings-store.js';

const [mode = '', target = '', ...rest] = process.argv.slice(2);

function acknowledge(what: string): void {
  process.stdout.write(`ok ${what}\n`);
}

/** Retries an edit refused as a `conflict` (someone else wrote first) after `reload`; other errors end the child. */
async function untilWritten(write: () => Promise<void>, reload: () => Promise<void>): Promise<void> {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    try {
      await write();
      return;
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'conflict') throw error;
      process.stdout.write('conflict\n');
      await reload();
    }
  }
  throw new Error('too many conflicts');
}

async function main(): Promise<void> {
  if (mode === 'counter') {
    const count = Number(rest[0]);
    for (let index = 0; index < count; index += 1) {
      await withFileLock(target, async () => {
        const current = await readFile(target, 'utf8').then(
          (text) => (JSON.parse(text) as { count: number }).count,
          () => 0,
        );
        await writeFileAtomic(target, JSON.stringify({ count: current + 1 }));
      });
      acknowledge(String(index));
    }
    return;
  }
  if (mode === 'backup') {
    const padding = 'x'.repeat(Number(rest[0]));
    for (let version = 1; ; version += 1) {
      await writeFileAtomic(target, `${JSON.stringify({ version, padding })}\n`, { backup: true });
    }
  }
  const [name = '', countText = '0'] = rest;
  const count = Number(countText);
  if (mode === 'registry') {
    const stack = await RegistryStack.open([{ path: join(target, 'model_registry.json'), role: 'user' }]);
    for (let index = 0; index < count; index += 1) {
      const modelName = `${name}-${index}`;
      await untilWritten(
        async () => {
          await stack.save({ entry: { model_name: modelName, backend: 'programmatic' } });
        },
        () => stack.reload(),
      );
      acknowledge(modelName);
    }
    stack.close();
    return;
  }
  if (mode === 'credentials') {
    const store = new CredentialStore({ configDir: target, environment: {}, workingDirectory: target });
    for (let index = 0; index < count; index += 1) {
      const backend = `${name}-${index}`;
      await store.set(backend, `sk-${backend}-0123456789abcdef`);
      acknowledge(backend);
    }
    return;
  }
  if (mode === 'settings') {
    const settings = new SettingsStore(target);
    for (let index = 0; index < count; index += 1) {
      const origin = `http://${name}-${index}.test`;
      await settings.addTrustedOrigin(origin);
      acknowledge(origin);
    }
    return;
  }
  if (mode === 'session') {
    const store = new SessionStore({ dataDir: target });
    for (let index = 0; index < count; index += 1) {
      const content = `${name}-${index}`;
      let session = await store.get('chat-1');
      await untilWritten(
        async () => {
          // Strictly later than what it replaces, so that the version check can tell every save apart.
          const updatedAt = new Date(Math.max(Date.now(), Date.parse(session.updated_at) + 1)).toISOString();
          const message = {
            id: content,
            speaker: 'user',
            to: ['model'],
            created_at: updatedAt,
            versions: [{ text: content, reasoning: '', status: 'done' as const, started_at: updatedAt }],
            current: 0,
          };
          await store.save(
            { ...session, updated_at: updatedAt, messages: [...session.messages, message] },
            { ifUpdatedAt: session.updated_at },
          );
        },
        async () => {
          session = await store.get('chat-1');
        },
      );
      acknowledge(content);
    }
    return;
  }
  throw new Error(`unknown mode ${mode}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
