// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'data/',
      'coverage/',
      // AssemblyScript, not TypeScript: decorators, i32 and friends. Its compiler checks it.
      'pdk/assembly/**',
      'plugins-src/**/assembly/**',
      'tests/fixtures/plugins/**/assembly/**',
      'pdk/templates/**/assembly/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', performance: 'readonly' },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      'no-console': ['error', { allow: ['warn', 'error', 'log'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Error messages must come from the error table, never from concatenated values.
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='BulkheadError'] > TemplateLiteral:first-child", message: 'Use a code from host/core/errors.ts.' },
        // A log message is a constant: variables go in fields, where host/log's policy screens them.
        {
          selector:
            "CallExpression[callee.property.name=/^(trace|debug|info|warn|error|fatal)$/][callee.object.name=/[lL]og(ger)?$/] > :matches(TemplateLiteral[expressions.length>0], BinaryExpression[operator='+'])",
          message: 'Log messages must be constant strings; put values in fields (host/log screens fields, not messages).',
        },
        {
          selector:
            "CallExpression[callee.property.name=/^(trace|debug|info|warn|error|fatal)$/][callee.object.property.name=/^#?[lL]og(ger)?$/] > :matches(TemplateLiteral[expressions.length>0], BinaryExpression[operator='+'])",
          message: 'Log messages must be constant strings; put values in fields (host/log screens fields, not messages).',
        },
      ],
    },
  },
  {
    // The dashboard UI: plain ES modules run by the browser, no build step.
    files: ['dashboard/ui/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        window: 'readonly', document: 'readonly', location: 'readonly', history: 'readonly', fetch: 'readonly', console: 'readonly',
        HTMLElement: 'readonly', HTMLInputElement: 'readonly', HTMLSelectElement: 'readonly', HTMLTextAreaElement: 'readonly',
        Event: 'readonly', FormData: 'readonly', URLSearchParams: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
      },
    },
    rules: {
      // Everything a plugin, a manifest or a user wrote is shown as text, never parsed as HTML.
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'Use textContent: nothing is ever parsed as HTML.' },
        { property: 'outerHTML', message: 'Use textContent: nothing is ever parsed as HTML.' },
        { property: 'insertAdjacentHTML', message: 'Build elements with createElement and textContent.' },
        { object: 'document', property: 'write', message: 'Build elements with createElement and textContent.' },
      ],
      'no-restricted-globals': ['error', { name: 'eval', message: 'No eval: the CSP forbids it anyway.' }],
    },
  },
);
