#!/usr/bin/env node
'use strict';
// `npx patchflow …` (and `temporal patchflow …`, through the `temporal-patchflow` name of this same
// file): runs the prebuilt bundle (tools/build-cli.js, dist/cli/patchflow.cjs) while it is newer than
// every source it was built from, which starts in a fraction of a second; otherwise (a fresh clone, an
// edited source) the TypeScript entry point through tsx, as before. PATCHFLOW_CLI_FROM_SOURCE=1 forces
// tsx. cli/main.ts parses process.argv itself either way.
const { bundle, upToDate } = require('../tools/build-cli.js');

if (process.env.PATCHFLOW_CLI_FROM_SOURCE !== '1' && upToDate()) {
  require(bundle);
} else {
  require('tsx/cjs');
  require('./main.ts');
}
