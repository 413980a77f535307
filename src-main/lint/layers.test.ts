import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { findAppRoot } from '../paths.js';

// The layer rules of DESIGN.md live in eslint.config.js; these cases show they catch what they must and allow the
// one exception (the renderer's type-only import of the API router).
const eslint = new ESLint({ cwd: findAppRoot() });

async function layerMessages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === 'no-restricted-imports' || message.ruleId === 'no-restricted-globals')
    .map((message) => message.message);
}

describe('layer lint rules', () => {
  it.each([
    ['src-shared/x.ts', "import { app } from 'electron';\nexport const x = app;\n", 'no electron'],
    ['src-shared/x.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'Node built-ins'],
    ['src-shared/x.ts', "import { readFileSync } from 'fs';\nexport const x = readFileSync;\n", 'Node built-ins'],
    [
      'src-shared/x.ts',
      "import { apiRouter } from '../src-main/api/router.js';\nexport const x = apiRouter;\n",
      'outside itself',
    ],
    ['src-shared/x.ts', 'export const x = window.location;\n', 'window'],
    ['src-main/x.ts', "import { app } from 'electron';\nexport const x = app;\n", 'Only src-main/electron/'],
    [
      'src-main/x.ts',
      "import { App } from '../src-renderer/App';\nexport const x = App;\n",
      'never imports the renderer',
    ],
    [
      'src-renderer/x.ts',
      "import { apiRouter } from '../src-main/api/router';\nexport const x = apiRouter;\n",
      'only the type',
    ],
    [
      'src-renderer/x.ts',
      "import type { SessionRecord } from '../src-main/conversation/session-schema';\nexport type X = SessionRecord;\n",
      'nothing from src-main',
    ],
    ['src-renderer/x.ts', "import { ipcRenderer } from 'electron';\nexport const x = ipcRenderer;\n", 'API client'],
  ])('%s: %s is a layer violation', async (file, code, expected) => {
    const messages = await layerMessages(file, code);
    expect(messages.join('\n')).toContain(expected);
  });

  it.each([
    ['src-renderer/x.ts', "import type { ApiRouter } from '../src-main/api/router';\nexport type X = ApiRouter;\n"],
    ['src-main/electron/x.ts', "import { app } from 'electron';\nexport const x = app;\n"],
    ['src-main/x.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n"],
    ['src-shared/x.ts', "import { unify } from './spec/unify.js';\nexport const x = unify;\n"],
  ])('%s: allowed import passes', async (file, code) => {
    expect(await layerMessages(file, code)).toEqual([]);
  });
});
