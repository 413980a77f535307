// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];

/**
 * The layers of DESIGN.md, as import rules: shared is pure; main and renderer never import each other, except the
 * renderer's type-only import of the API router; only src-main/electron imports electron.
 */
export const layerRules = [
  {
    files: ['src-shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'src-shared is pure: no Node built-ins (DESIGN.md, Layers).',
            })),
            { name: 'electron', message: 'src-shared is pure: no electron (DESIGN.md, Layers).' },
          ],
          patterns: [
            { group: ['node:*'], message: 'src-shared is pure: no Node built-ins (DESIGN.md, Layers).' },
            { group: ['**/src-main/**', '**/src-renderer/**'], message: 'src-shared imports nothing outside itself.' },
            {
              group: ['react', 'react-dom', 'react-dom/*', 'zustand', 'monaco-editor', 'monaco-editor/*'],
              message: 'src-shared has no DOM code.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        'window',
        'document',
        'navigator',
        'localStorage',
        'process',
        'Buffer',
        'require',
      ],
    },
  },
  {
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/electron/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'Only src-main/electron/ imports electron; the rest runs in plain Node.' },
          ],
          patterns: [{ group: ['**/src-renderer/**'], message: 'main never imports the renderer.' }],
        },
      ],
    },
  },
  {
    files: ['src-main/electron/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/src-renderer/**'], message: 'main never imports the renderer.' }] },
      ],
    },
  },
  {
    files: ['src-renderer/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer reaches main only through the API client.' }],
          patterns: [
            {
              regex: '(^|/)src-main/(?!api/router(\\.js)?$)',
              message: 'The renderer imports nothing from src-main but the API router type.',
            },
            {
              group: ['**/src-main/api/router'],
              allowTypeImports: true,
              message: 'The renderer imports only the type of the API router.',
            },
            { group: ['node:*'], message: 'The renderer runs in a browser: no Node built-ins.' },
          ],
        },
      ],
    },
  },
];

export default tseslint.config(
  {
    ignores: [
      'out/**',
      'dist/**',
      'node_modules/**',
      'test-results/**',
      'playwright-report/**',
      '.cache/**',
      'bench/.cache/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src-renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    // The web tsconfig needs Node's types for the router type the renderer imports; the code itself must not use them.
    rules: { 'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname'] },
  },
  ...layerRules,
  {
    // Renderer store tests run in Node against a real web host: they may start one, as e2e specs do.
    files: ['src-renderer/**/*.test.ts'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-restricted-globals': 'off',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)src-main/(?!(testing|host)/|services$|api/router$)',
              message: 'Renderer tests may use only the test helpers, the web host and the services of src-main.',
            },
          ],
        },
      ],
    },
  },
);
