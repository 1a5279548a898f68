/**
 * The layer rule of src/ (README, "Layout"): every import runs downwards,
 *   app → features → adapters → core → platform,
 * a feature reaches another feature only through what sits below both (core, features/shared),
 * and nothing lives outside a layer. There is no exception list: a new need is met by moving the
 * shared piece down a layer, not by allowing an upward import.
 */
const LAYERS = '(app|features|adapters|core|platform)';

module.exports = {
  forbidden: [
    // Every source file belongs to one layer folder, so the rules below see it: one that imports,
    // one that is imported, and one that does neither (an orphan).
    {
      name: 'outside-a-layer',
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/${LAYERS}/` },
      to: {},
    },
    {
      name: 'outside-a-layer',
      severity: 'error',
      from: {},
      to: { path: '^src/', pathNot: `^src/${LAYERS}/` },
    },
    {
      name: 'outside-a-layer',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: `^src/${LAYERS}/` },
      to: {},
    },
    {
      name: 'platform-is-generic',
      comment: 'platform/ (config, errors, logger, money, http, openapi, metrics) knows no payment, provider or feature.',
      severity: 'error',
      from: { path: '^src/platform/' },
      to: { path: '^src/(core|adapters|features|app)/' },
    },
    {
      name: 'core-knows-no-adapter',
      comment: 'core/ (coordinator, ledger, transitions, settlement, the store and chain ports) depends on ports, never on an adapter or a feature.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(adapters|features|app)/' },
    },
    {
      name: 'adapters-serve-the-core',
      comment: 'adapters/ implement the ports for MongoDB, the chain, SHKeeper, Redis and Socket.IO; features use them, not the reverse.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(features|app)/' },
    },
    {
      name: 'features-are-separate',
      comment: 'A feature imports only its own folder and features/shared; what two features share moves down.',
      severity: 'error',
      from: { path: '^src/features/([^/]+)/' },
      to: { path: '^src/features/', pathNot: '^src/features/($1|shared)/' },
    },
    {
      name: 'only-the-app-composes',
      comment: 'app/ (entry, server, composition) is the only place that knows every feature.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/app/' },
      to: { path: '^src/app/' },
    },
    {
      name: 'source-never-imports-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle hides which module owns a rule.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|test|bench)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
