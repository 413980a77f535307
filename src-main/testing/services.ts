import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAppServices, type AppServices, type AppServicesOptions } from '../services.js';

/**
 * Services over fresh temporary folders, so a test never reads or writes the real user's registry, chats or keys:
 * the working directory, config, data and home folders are new and empty, and no environment variable is read,
 * unless the test passes its own.
 */
export function createTestServices(options: AppServicesOptions = {}): Promise<AppServices> {
  const home = mkdtempSync(join(tmpdir(), 'clemplay-test-'));
  return createAppServices({
    cwd: join(home, 'cwd'),
    configDir: join(home, 'config'),
    dataDir: join(home, 'data'),
    homeDirectory: join(home, 'home'),
    environment: {},
    ...options,
  });
}
