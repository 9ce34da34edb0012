/**
 * Node/V8 flags the broker process runs with, wherever it is started: the Docker entrypoint
 * (deploy/docker/entrypoint.sh), test and bench clusters (libs/testing cluster.ts). Those
 * cannot import this module (a shell script; a library without this dependency), so they
 * repeat the flags; node-flags.spec.ts checks that they still do.
 *
 * `--initial-old-space-size=128`: a floor of 128 MiB under V8's old-generation allocation
 * limit. A broker's JS heap is small (~17 MiB live) while it moves a lot of memory outside it
 * (ArrayBuffers of gRPC reads and writes, TLS buffers); V8 sets the old-generation limit at
 * about twice the live heap and counts external memory allocated since the last full GC
 * against it, so with its default limit (~32-40 MiB) a busy broker ran a full mark-compact
 * every ~100 ms. Under TLS that cost the most: in the secure-perf bench (6 partitions RF 3,
 * acks=all, 100-byte records) the secure brokers ran 130-160 mark-compacts in a quick run
 * against 8-50 for plaintext, concurrent marking and sweeping took ~35-44% of a secure
 * broker's CPU samples (perf), and the brokers used 2.8-3.3 µs of CPU per record against
 * 1.1-1.6 µs plaintext. With the floor: 0-1 mark-compacts per run in both modes and
 * 1.4-1.5 µs per record secure. 64 MiB was not enough for long runs: in a full secure-perf run
 * (4 rounds of 10 s) the secure brokers slowed round after round (855k → 622k records/s,
 * broker CPU 1.64 → 2.08 µs/record, ratio 0.70); with 128 MiB they held 830-910k records/s
 * at 1.4-1.6 µs/record (ratio 0.815). The floor is not a cap: the heap still grows and is
 * collected normally above it, and it costs at most 128 MiB of old space that a busy broker
 * would otherwise give back.
 */
export const BROKER_NODE_FLAGS: readonly string[] = Object.freeze(['--initial-old-space-size=128']);
