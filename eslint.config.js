// @ts-check
/**
 * Lint: a modest type-aware rule set plus the import boundaries that keep the layers honest.
 *
 * The layers (docs/design.md): `sms/` and the SMPP protocol code are pure — no sockets, files, clients
 * or loggers at run time; `smpp/` knows nothing of Kafka; `kafka/` knows nothing of SMPP; `pipeline/`
 * reaches Kafka and the disk only through the ports it declares (the kafka and store adapters
 * implement them; only `store/` uses lmdb); the edge
 * (app, cli, config, tools, client, demo) is where everything meets.
 *
 * Two rules do the checking, each fed from the tables below:
 * - `import-x/no-restricted-paths` for our own modules, on resolved file paths (a `../kafka/x.js` and a
 *   `./x.js` from inside `kafka/` are the same file to it);
 * - `@typescript-eslint/no-restricted-imports` for packages and node built-ins, one config object per
 *   layer (flat config replaces a rule's options per object, so the layers' file sets never overlap).
 */
import { globSync } from 'node:fs';
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The pure SMPP protocol modules (status table, receipt parsing and errors, PDU encoding, pacing,
 * pool spec, and the types they share); every other file of `src/smpp/` (`session/`) is the
 * session layer.
 */
const SMPP_PROTOCOL = ['src/smpp/protocol/**'];

/** Files matching `include` but none of `exclude`, as plain paths (a new smpp file is session code until listed above). */
function filesOf(include, exclude) {
  const cwd = import.meta.dirname;
  const excluded = new Set(exclude.flatMap((p) => globSync(p, { cwd })));
  return globSync(include, { cwd })
    .filter((f) => !excluded.has(f) && !f.endsWith('.d.ts'))
    .sort();
}

/** Each source file belongs to exactly one layer; the edge is whatever no other layer claims. */
const CORE_LAYERS = {
  util: ['src/util/**'],
  sms: ['src/sms/**'],
  routing: ['src/routing/**'],
  smppProtocol: SMPP_PROTOCOL,
  smppSession: filesOf('src/smpp/**/*.ts', SMPP_PROTOCOL),
  pipeline: ['src/pipeline/**'],
  kafka: ['src/kafka/**'],
  store: ['src/store/**'],
  obs: ['src/obs/**'],
  contracts: ['src/contracts.ts'],
  config: ['src/config.ts', 'src/config-error.ts', 'src/config-posture.ts', 'src/config-routes.ts'],
  simulator: ['src/simulator/**'],
};
const EDGE_IGNORES = Object.values(CORE_LAYERS).flat();
/** App, cli, config, tools, client, demo: where the layers meet. Listed so that no core layer imports it. */
const LAYERS = { ...CORE_LAYERS, edge: filesOf('src/**/*.ts', EDGE_IGNORES) };

/** Which of our layers each layer may import (itself included). The edge may import all of them. */
const MAY_IMPORT = {
  util: ['util'],
  sms: ['sms', 'util'],
  routing: ['routing', 'util'],
  smppProtocol: ['smppProtocol', 'sms', 'util'],
  smppSession: ['smppSession', 'smppProtocol', 'sms', 'util'],
  pipeline: ['pipeline', 'routing', 'smppProtocol', 'sms', 'contracts', 'obs', 'util'],
  kafka: ['kafka', 'pipeline', 'contracts', 'config', 'obs', 'util'],
  // The on-disk store implements the pipeline's store port; nothing but the edge opens it.
  store: ['store', 'pipeline', 'util'],
  obs: ['obs', 'util'],
  contracts: ['contracts'],
  // The configuration is checked against limits the layers declare (request bounds, compression
  // names, bind field lengths); the kafka layer takes from it only ConfigError and the PEM-files type.
  config: ['config', 'routing', 'smppProtocol', 'sms', 'util', 'pipeline', 'kafka'],
  simulator: ['simulator', 'smppSession', 'smppProtocol', 'sms', 'obs', 'config', 'util'],
};

const pathZones = Object.entries(MAY_IMPORT).flatMap(([layer, allowed]) =>
  Object.keys(LAYERS)
    .filter((other) => !allowed.includes(other))
    .map((other) => ({ target: LAYERS[layer], from: LAYERS[other], message: `the ${layer} layer may import only ${allowed.join(', ')}.` })),
);

/** Built-ins that reach outside the process (with and without the `node:` prefix). */
const IO_BUILTINS = ['net', 'tls', 'fs', 'fs/promises', 'http', 'https', 'http2', 'dgram', 'dns', 'child_process', 'cluster', 'worker_threads'].flatMap((m) => [
  m,
  `node:${m}`,
]);
/** Packages that do I/O or hold process-wide state (logging, metrics). */
const IO_PACKAGES = ['pino', 'prom-client'];
const KAFKA_PACKAGES = ['kafkajs', '@kafkajs/confluent-schema-registry'];

/** `paths` entries for no-restricted-imports; `allowTypeImports`: a type names a thing, it does no I/O. */
const banned = (names, message, allowTypeImports) => names.map((name) => ({ name, message, allowTypeImports }));
const bannedPrefix = (names, message, allowTypeImports) => names.map((name) => ({ group: [`${name}/*`], message, allowTypeImports }));

const PURE = 'pure code does no I/O: take what it needs as an argument or an interface.';
const KAFKA_ONLY = 'only src/kafka talks to Kafka and the schema registry; the pipeline uses its own ports.';
const SMPP_ONLY = 'only the SMPP session layer and the simulator use the smpp library.';
const STORE_ONLY = 'only src/store uses lmdb; the pipeline reads and writes through its store port.';

/** What each layer may not import from packages; `kafkaTypes`: the edge passes a Kafka handle along without using it. */
function packageRules({ pure = false, kafka = false, kafkaTypes = false, smpp = false, store = false }) {
  const paths = [
    ...(pure ? banned([...IO_BUILTINS, ...IO_PACKAGES], PURE, true) : []),
    ...(kafka ? [] : banned(KAFKA_PACKAGES, KAFKA_ONLY, kafkaTypes)),
    ...(smpp ? [] : banned(['smpp'], SMPP_ONLY, false)),
    ...(store ? [] : banned(['lmdb'], STORE_ONLY, false)),
  ];
  const patterns = [
    ...(kafka ? [] : bannedPrefix(KAFKA_PACKAGES, KAFKA_ONLY, kafkaTypes)),
    // src/obs holds the logger, the metrics registry and the HTTP server: pure code may name their types only.
    ...(pure ? [{ group: ['**/obs/*'], message: PURE, allowTypeImports: true }] : []),
  ];
  return { '@typescript-eslint/no-restricted-imports': ['error', { paths, patterns }] };
}

const PACKAGE_POLICY = [
  { files: [...LAYERS.util, ...LAYERS.sms, ...LAYERS.routing], rules: packageRules({ pure: true }) },
  { files: LAYERS.smppProtocol, rules: packageRules({ pure: true }) },
  { files: LAYERS.pipeline, rules: packageRules({ pure: true }) },
  { files: LAYERS.smppSession, rules: packageRules({ smpp: true }) },
  { files: LAYERS.simulator, rules: packageRules({ smpp: true }) },
  { files: LAYERS.kafka, rules: packageRules({ kafka: true }) },
  { files: LAYERS.store, rules: packageRules({ store: true }) },
  { files: [...LAYERS.obs, ...LAYERS.contracts, ...LAYERS.config], rules: packageRules({}) },
  { files: ['src/**/*.ts'], ignores: EDGE_IGNORES, rules: packageRules({ kafkaTypes: true }) },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.local/**', 'tools/dev-stack/target/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names are deliberately unused (a callback's position, a destructured rest).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // An abort rejects with `signal.reason`, which the DOM types declare as any (it is an Error in practice).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true }],
      // An `async` implementation of a Promise-returning interface without an await is deliberate: it
      // turns a throw into a rejection, which the callers handle.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // node:test's test()/describe() return promises its runner awaits; tests read untyped JSON and
    // library internals on purpose, and assert what they find.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // Assertion messages print whatever the test holds; hostile-input tests match control characters on purpose.
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Our imports name the emitted `.js`; the source is the `.ts` beside it.
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: { 'import-x/no-restricted-paths': ['error', { zones: pathZones, basePath: import.meta.dirname }] },
  },
  ...PACKAGE_POLICY,
);
