#!/usr/bin/env node
// Launcher of the `tributary` command (`npx tributary ...` from the repository root): runs the
// built CLI, or says how to build it.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const main = join(__dirname, '..', 'dist', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('tributary: the CLI is not built yet: run `npm run build` (or `npx tsc -b apps/cli`) at the repository root first\n');
  process.exit(1);
}
require(main);
