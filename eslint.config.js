import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js', 'vitest.netboot.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Fastify handlers and hooks are async by contract (a returned value is the answer), awaiting or not.
      '@typescript-eslint/require-await': 'off',
      // Passing on what was caught (an unknown) is fine; creating a non-Error is not.
      '@typescript-eslint/only-throw-error': ['error', { allowRethrowing: true, allowThrowingUnknown: true }],
      // Off: the errors execFile and streams hand to callbacks are Errors, but typed through Omit<> the rule cannot tell.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  {
    // Tests read untyped JSON answers (`body` is any) and hand mocked methods to expect(); the promise rules stay on.
    files: ['**/*.test.ts', '**/test-support/**', 'test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  // Plain JavaScript (this file, bin/, workers) has no types to check.
  { files: ['**/*.{js,mjs}'], ...tseslint.configs.disableTypeChecked },
  {
    // The server logs through its structured logger, never straight to the console.
    files: ['src/server/**/*.ts', 'src/core/**/*.ts', 'src/db/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  { files: ['web/**/*.{ts,tsx}'], languageOptions: { globals: { ...globals.browser } } },
  // Layers: every rule the UI, CLI and agent share lives in src/contracts, and dependencies point one way only.
  ...importBoundaries('web/**/*.{ts,tsx}', [/^(\.\.\/)+src\/(?!contracts\/)/], 'The web UI imports only src/contracts from the server side.'),
  ...importBoundaries('src/contracts/*.ts', [/^\.\.\//], 'src/contracts depends on nothing else in the project.'),
  ...importBoundaries('src/contracts/test-support/*.ts', [/^\.\.\/\.\.\//], 'src/contracts depends on nothing else in the project.'),
  ...importBoundaries('src/core/**/*.ts', [/^(\.\.\/)+(server|agent|cli)\//], 'The core never imports the server, the agent or the CLI.'),
  ...importBoundaries('src/db/**/*.ts', [/^(\.\.\/)+(core|server|agent|cli)\//], 'The data layer never imports the core, the server, the agent or the CLI.'),
  ...importBoundaries('src/disk-layout/**/*.ts', [/^(\.\.\/)+(core|server|db|agent|cli)\//], 'src/disk-layout is shared by the core and the agent and imports neither.'),
  {
    // The rules of hooks; the React Compiler's stricter rules wait until the UI is compiled with it.
    files: ['web/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
);

/** `no-restricted-imports` for one folder: module paths matching any of `forbidden` are refused with `message`. */
function importBoundaries(files, forbidden, message) {
  return [{ files: [files], rules: { 'no-restricted-imports': ['error', { patterns: forbidden.map((regex) => ({ regex: regex.source, message })) }] } }];
}
