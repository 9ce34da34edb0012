// Builds Tributary's native addons (today: libs/records/native/records.c: a CRC32C that runs
// three SSE4.2 streams in parallel, ≈4x @node-rs/crc32, and the leader's record walk). Runs from `npm ci` (prepare),
// `npm test` and `npm run bench`; rebuilds only when the source is newer than the output.
// Needs a C compiler and Node's headers (both on the Debian machines we run on). Where it
// cannot build — another CPU, no compiler — it says so and the code falls back to
// @node-rs/crc32, so nothing breaks; it exits 0 either way.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const addons = [{ source: 'libs/records/native/records.c', output: 'libs/records/native/build/records.node', flags: ['-O3'] }];

function nodeHeaders() {
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
}

function compiler() {
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean)) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

function main() {
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    console.log(`native addons: skipped on ${process.platform}/${process.arch} (using @node-rs/crc32)`);
    return;
  }
  const headers = nodeHeaders();
  const cc = compiler();
  if (!headers || !cc) {
    console.log(`native addons: ${!cc ? 'no C compiler' : "no Node headers (node_api.h)"} found, using @node-rs/crc32 (install build-essential for the faster CRC32C)`);
    return;
  }
  for (const addon of addons) {
    const source = path.join(root, addon.source);
    const output = path.join(root, addon.output);
    if (fs.existsSync(output) && fs.statSync(output).mtimeMs >= fs.statSync(source).mtimeMs) continue;
    fs.mkdirSync(path.dirname(output), { recursive: true });
    const tmp = `${output}.tmp`;
    try {
      execFileSync(cc, [...addon.flags, '-fPIC', '-shared', '-Wall', '-Wextra', `-I${headers}`, '-o', tmp, source], { stdio: 'inherit' });
      fs.renameSync(tmp, output);
      console.log(`native addons: built ${addon.output}`);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      console.log(`native addons: building ${addon.source} failed (${e.message}); using the fallback`);
    }
  }
}

main();
