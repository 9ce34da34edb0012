// Checks, before any test runs, that the machine has what the suite needs that npm cannot
// install. Stops at once with the one command to run when something is missing.
// (ZooKeeper joins this list with the coordination service.)
const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`Node ${process.versions.node} is too old: install Node 20 or newer`);
  process.exit(1);
}
