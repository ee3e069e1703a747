// Type-checked lint, as in ../shared/CONVENTIONS.md (Tooling).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Import paths that reach folder `f` from one to three levels down. */
const up = (f) => [`../${f}/*`, `../../${f}/*`, `../../../${f}/*`];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.mjs', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ExportNamedDeclaration > VariableDeclaration[kind="let"]',
          message: 'No mutable exports (CONVENTIONS: no module singletons).',
        },
      ],
    },
  },
  {
    // Product folders never import each other; they share through core/ (ARCHITECTURE.md). core/ never
    // imports cli/: commands are declared with core/command.ts, which cli/ runs (docs/contracts.md "CLI").
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '../state-scripts/*',
            '../agent-hooks/*',
            '../mender-artifacts/*',
            '../bridge/*',
            '../cli/*',
            '../../*',
            '**/test/**',
          ],
        },
      ],
    },
  },
  ...['state-scripts', 'agent-hooks', 'mender-artifacts', 'bridge'].map((own) => ({
    files: [`${own}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          // No exceptions: a product declares its commands with core/command.ts; only cli/ imports them.
          patterns: [
            ...['state-scripts', 'agent-hooks', 'mender-artifacts', 'bridge', 'cli']
              .filter((f) => f !== own)
              .flatMap(up),
            // Product code never imports test/ (issue #15): the simulator and fleet live in mender-sim/.
            '**/test/**',
          ],
        },
      ],
    },
  })),
  {
    files: ['mender-sim/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...up('cli'), '**/test/**'] }] },
  },
  {
    files: ['cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/test/**'] }] },
  },
  {
    files: ['**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      // Keep disableTypeChecked's parser options (no project service for plain JS files).
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', __filename: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
