#!/usr/bin/env node
'use strict';
// `npx patchflow …` from the repo: registers tsx's CommonJS loader, then runs the TypeScript entry
// point directly (no build step). cli/main.ts parses process.argv itself.
require('tsx/cjs');
require('./main.ts');
