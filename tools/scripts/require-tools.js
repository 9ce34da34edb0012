// Checks, before any test runs, that the machine has what the suite needs that npm cannot
// install. Stops at once with the one command to run when something is missing; as root it
// installs the Debian packages itself (tools/scripts/install-system-deps.sh).
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`Node ${process.versions.node} is too old: install Node 20 or newer`);
  process.exit(1);
}

// ZooKeeper (integration tests of the coordination service run a real server).
const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const INSTALL_COMMAND = 'sudo apt-get update && sudo apt-get install -y --no-install-recommends zookeeper';

function javaOnPath() {
  const dirs = [
    ...(process.env.JAVA_HOME ? [path.join(process.env.JAVA_HOME, 'bin')] : []),
    ...(process.env.PATH || '').split(path.delimiter),
  ];
  return dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, 'java'), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const zooKeeperPresent = () => fs.existsSync(ZOOKEEPER_JAR) && javaOnPath();

if (!zooKeeperPresent()) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    console.error(`ZooKeeper is missing (${ZOOKEEPER_JAR} and java); run: ${INSTALL_COMMAND}`);
    process.exit(1);
  }
  const script = path.join(__dirname, 'install-system-deps.sh');
  console.log('ZooKeeper is missing; installing the Debian packages (tools/scripts/install-system-deps.sh)');
  const result = spawnSync('bash', [script], { stdio: 'inherit' });
  if (result.status !== 0 || !zooKeeperPresent()) {
    console.error(`installing ZooKeeper failed; run: ${INSTALL_COMMAND}`);
    process.exit(1);
  }
}
