// eslint for the extension's TypeScript: the recommended rules, typed, plus the few that keep
// the code honest (no `any`, no stray console, `fetch` only in api.ts).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'lib/**',
      'lib-test/**',
      'node_modules/**',
      'src/generated/**',
      '../jupyter_mltrack/labextension/**'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.{ts,tsx}', 'test/**/*.ts'],
    languageOptions: {
      parserOptions: { ecmaFeatures: { jsx: true } }
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
      '@typescript-eslint/no-namespace': 'off',
      'no-console': ['error', { allow: ['warn', 'error'] }],
      eqeqeq: ['error', 'smart'],
      curly: ['error', 'all'],
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'All HTTP goes through api.ts (ServerConnection.makeRequest).' }
      ]
    }
  }
);
