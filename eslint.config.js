import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', '.data', '.tools', '.bench', 'src/db/migrations', 'dist'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O modules.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'os', 'child_process'], message: 'Workflows run in a deterministic sandbox: no Node built-ins.' },
            { group: ['**/activities/**', '**/db/**', '**/stores/**', '**/api/**', '**/providers/**', 'postgres', 'drizzle-orm*', 'stripe', 'express'], allowTypeImports: true, message: 'Workflows may import only @temporalio/workflow, src/domain and src/shared (types excepted).' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'console', message: 'Use log from @temporalio/workflow.' }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Keep time out of workflow logic; pass it in or use sleep/condition.' },
        { object: 'Math', property: 'random', message: 'Use uuid4() or deterministic ids.' },
      ],
    },
  },
  {
    // Routes are thin (docs/architecture.md): SQL and rules live in src/stores, activities run in workers.
    files: ['src/api/routes/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['drizzle-orm*', 'postgres', '**/db/tables/**', '**/db/schema*'], allowTypeImports: true, message: 'Routes hold no SQL: call a store in src/stores.' },
            { group: ['**/activities/**', '**/workflows/**'], allowTypeImports: true, message: 'Routes do not import activities or workflows: call a store, or src/temporal to start a workflow.' },
          ],
        },
      ],
    },
  },
);
