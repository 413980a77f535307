import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAppRoot } from '../paths.js';

const root = findAppRoot();

describe('clemplay folders', () => {
  it('lists where settings, conversations, models and results are', () => {
    const base = mkdtempSync(join(tmpdir(), 'clemplay-folders-cli-'));
    const result = spawnSync(process.execPath, [join(root, 'bin', 'clemplay.mjs'), 'folders'], {
      cwd: base,
      env: {
        ...process.env,
        XDG_CONFIG_HOME: join(base, 'config'),
        XDG_DATA_HOME: join(base, 'data'),
        CLEMPLAY_MODELS_DIRS: '',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      `config   ${join(base, 'config', 'clemplay')}  (settings.json, model_registry.json, credentials.json)`,
      `data     ${join(base, 'data', 'clemplay')}  (sessions/, votes.json)`,
      `models   ${join(base, 'data', 'clemplay', 'models')}`,
      `results  ${join(base, 'data', 'clemplay', 'results')}`,
      '',
    ]);
  });
});
