// Post-processes the ts-proto output in libs/proto/src/gen (run by the `proto:generate` Nx
// target right after `buf generate`; never run by hand on anything else).
//
// What it does: the decoders of the record-carrying `bytes` fields (ProducePartitionData.records,
// FetchPartitionResponse.records) return a Buffer VIEW of the received message instead of a
// copy. ts-proto with env=node emits `message.records = Buffer.from(reader.bytes())`, and
// `Buffer.from(Uint8Array)` copies, although `reader.bytes()` is already a zero-copy subarray
// of the decoded input. ts-proto 2.18 has no option for this (checked: README.markdown lists
// none), hence this step.
//
// Ownership contract of the view (also in libs/proto/README.md): the Buffer shares memory with
// the whole message it was decoded from and keeps all of it alive while it lives, and a write
// to it writes into that message. Fine for the broker (it appends a Produce request's records
// to the log, rewriting baseOffset/partitionLeaderEpoch in place, and drops the request) and
// for a consumer (it keeps a Fetch answer until it has handed the records out). Whoever keeps
// a small slice of a big message for long must copy it (`Buffer.from(view)`).
//
// Why only these fields: every other `bytes` field (coordination `data`, `candidate`, `leader`)
// is small and long-lived (the embedded coordination store keeps values for ever); a view of
// a message under 4 KiB lives in Node's shared 8 KiB allocation pool and would pin a whole
// pool slab per stored value. Those keep ts-proto's copy.
//
// Guarantees: idempotent (running it twice changes nothing), and it FAILS (exit 1) when it
// does not find exactly the expected occurrences, rewritten or not, so a ts-proto upgrade
// that changes the emitted code cannot silently bring the copies back.
const fs = require('node:fs');
const path = require('node:path');

/** The ts-proto output directory; an argument overrides it (libs/proto's spec runs this on a copy). */
const genDir = process.argv[2] ?? path.join(__dirname, '..', '..', 'libs', 'proto', 'src', 'gen');

/** Files and `bytes` fields to decode as views, with how many decoders assign each field. */
const TARGETS = [{ file: 'tributary/v1/broker.ts', field: 'records', occurrences: 2 }];

const HELPER = 'tributaryBufferView';
const HELPER_SOURCE = `
// Added by tools/scripts/proto-postprocess.js: a Buffer over the same memory as \`bytes\`
// (no copy). It keeps the whole decoded message alive; see libs/proto/README.md.
function ${HELPER}(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
`;

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function processFile(target) {
  const file = path.join(genDir, target.file);
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist (did buf generate run?)`);
  const before = fs.readFileSync(file, 'utf8');
  const field = escapeRegExp(target.field);
  const copying = new RegExp(`(message\\.${field} = )Buffer\\.from\\(reader\\.bytes\\(\\)\\);`, 'g');
  const viewing = new RegExp(`message\\.${field} = ${HELPER}\\(reader\\.bytes\\(\\)\\);`, 'g');
  const copies = (before.match(copying) ?? []).length;
  const views = (before.match(viewing) ?? []).length;
  if (copies + views !== target.occurrences) {
    throw new Error(
      `${target.file}: expected ${target.occurrences} decoders of \`${target.field}\` ` +
        `(\`message.${target.field} = Buffer.from(reader.bytes());\`), found ${copies} copying and ${views} already rewritten. ` +
        'The ts-proto output changed (upgrade or new field): check the generated decoders and update TARGETS in tools/scripts/proto-postprocess.js.',
    );
  }
  let after = before.replace(copying, `$1${HELPER}(reader.bytes());`);
  if (!after.includes(`function ${HELPER}(`)) after = after.trimEnd() + '\n' + HELPER_SOURCE;
  if (after !== before) fs.writeFileSync(file, after);
  return { copies, views };
}

function main() {
  for (const target of TARGETS) {
    const { copies, views } = processFile(target);
    console.log(`proto-postprocess: ${target.file} ${target.field}: ${copies} rewritten to views, ${views} already views`);
  }
}

try {
  main();
} catch (e) {
  console.error(`proto-postprocess: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
