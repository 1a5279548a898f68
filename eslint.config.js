import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // The Mongoose adapter is the one place that deals with schemaless driver values.
      '@typescript-eslint/no-explicit-any': 'off',
      'no-console': 'error',
    },
  },
  // Errors come from the catalog (src/platform/errorCatalog.ts) through fail(code): a code's kind,
  // status and message are stated once. Only fail() itself constructs an AppError.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/platform/errors.ts'],
    rules: {
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='AppError']", message: 'use fail(code) from the error catalog' }],
    },
  },
  // The admin console's browser modules (served as they are, no build step).
  {
    files: ['src/features/adminConsole/console/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'sessionStorage', 'fetch', 'URL', 'URLSearchParams', 'Node', 'atob', 'setTimeout'].map((g) => [g, 'readonly']),
      ),
    },
  },
  // Tool configuration files that must be CommonJS (.dependency-cruiser.cjs).
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly' } } },
);
