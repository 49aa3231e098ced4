import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The server logs through its structured logger, never straight to the console.
    files: ['src/server/**/*.ts', 'src/core/**/*.ts', 'src/db/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  { files: ['web/**/*.{ts,tsx}'], languageOptions: { globals: { ...globals.browser } } },
  // Layers: every rule the UI, CLI and agent share lives in src/contracts, and dependencies point one way only.
  ...importBoundaries('web/**/*.{ts,tsx}', [/^(\.\.\/)+src\/(?!contracts\/)/], 'The web UI imports only src/contracts from the server side.'),
  ...importBoundaries('src/contracts/**/*.ts', [/^\.\.\//], 'src/contracts depends on nothing else in the project.'),
  ...importBoundaries('src/core/**/*.ts', [/^(\.\.\/)+(server|agent|cli)\//], 'The core never imports the server, the agent or the CLI.'),
  ...importBoundaries('src/db/**/*.ts', [/^(\.\.\/)+(core|server|agent|cli)\//], 'The data layer never imports the core, the server, the agent or the CLI.'),
  ...importBoundaries('src/disk-layout/**/*.ts', [/^(\.\.\/)+(core|server|db|agent|cli)\//], 'src/disk-layout is shared by the core and the agent and imports neither.'),
);

/** `no-restricted-imports` for one folder: module paths matching any of `forbidden` are refused with `message`. */
function importBoundaries(files, forbidden, message) {
  return [{ files: [files], rules: { 'no-restricted-imports': ['error', { patterns: forbidden.map((regex) => ({ regex: regex.source, message })) }] } }];
}
