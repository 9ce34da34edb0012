#!/usr/bin/env node
// `npm start [-- flags]`: the one command that takes a fresh clone to a running local cluster.
// Plain JavaScript with no dependencies, because it runs before anything is installed:
//   1. node_modules missing → `npm ci` (installs, and builds the native CRC32C addon);
//   2. unless --no-build → `npm run build` (proto generate + tsc -b, incremental);
//   3. runs the launcher (dist/main.js, built from src/) in this same process, so Ctrl-C and
//      the exit code belong to it.
// Flags are checked before the (slow) steps when a previous build of the launcher exists.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const args = process.argv.slice(2);
const main = path.join(__dirname, 'dist', 'main.js');

function say(text) {
  process.stdout.write(`local-cluster: ${text}\n`);
}

function npm(stepArgs) {
  // Under `npm start`, npm_execpath is the npm that runs us; otherwise the one on PATH.
  const execPath = process.env.npm_execpath;
  return execPath && /\.[cm]?js$/.test(execPath)
    ? { command: process.execPath, args: [execPath, ...stepArgs] }
    : { command: 'npm', args: stepArgs };
}

function step(what, stepArgs, hint) {
  say(`${what} ...`);
  const t0 = Date.now();
  const { command, args: argv } = npm(stepArgs);
  const env = { NX_DAEMON: 'false', NX_ISOLATE_PLUGINS: 'false', NX_NO_CLOUD: 'true', ...process.env };
  const res = spawnSync(command, argv, { cwd: root, stdio: 'inherit', env });
  if (res.error || res.status !== 0) {
    const why = res.error ? res.error.message : res.signal ? `killed by ${res.signal}` : `exit code ${res.status}`;
    process.stderr.write(`local-cluster: ${what} failed (${why}); ${hint}\n`);
    process.exit(1);
  }
  say(`${what}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function checkFlags() {
  // A previous build's parser gives a bad flag its one line at once, not after the build.
  const optionsJs = path.join(__dirname, 'dist', 'options.js');
  if (!fs.existsSync(optionsJs)) return;
  let options;
  try {
    options = require(optionsJs);
  } catch {
    return; // a broken old build: the launcher checks again after building
  }
  try {
    options.parseOptions(args, process.env, process.env.INIT_CWD || process.cwd(), root);
  } catch (e) {
    if (!(e instanceof options.UsageError)) return;
    process.stderr.write(`local-cluster: ${e.message}\n`);
    process.exit(2);
  }
}

const help = args.includes('--help');
const noBuild = args.includes('--no-build');
checkFlags();

if (!fs.existsSync(path.join(root, 'node_modules'))) {
  step('installing dependencies (npm ci; first start only)', ['ci', '--no-audit', '--no-fund'], 'fix the problem above and run `npm start` again');
} else {
  const lock = path.join(root, 'package-lock.json');
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  if (fs.existsSync(lock) && fs.existsSync(installed) && fs.statSync(lock).mtimeMs > fs.statSync(installed).mtimeMs + 1000) {
    say('package-lock.json is newer than the installed node_modules: if the start fails, run `npm ci` first');
  }
}

if (!noBuild && !(help && fs.existsSync(main))) {
  step('building (npm run build: proto generate + tsc -b)', ['run', 'build', '--silent'], 'fix the build errors above, or start what is already built with `npm start -- --no-build`');
}

if (!fs.existsSync(main)) {
  process.stderr.write(`local-cluster: ${path.relative(root, main)} is not built; run \`npm start\` without --no-build (or \`npm run build\`)\n`);
  process.exit(1);
}
require(main);
