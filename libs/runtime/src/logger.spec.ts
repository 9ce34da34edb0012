import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

// In a child process: jest gives tests a copy of `process`, whose warnings are not the real ones.
test('process warnings go to the JSON log, except the TLS-to-an-IP deprecation', () => {
  const logger = join(__dirname, '..', 'dist', 'logger.js');
  const script = `
    const { createLogger, routeProcessWarnings } = require(${JSON.stringify(logger)});
    routeProcessWarnings(createLogger({ service: 'logger-spec', nodeId: 0 }));
    process.emitWarning('Setting the TLS ServerName to an IP address is not permitted', { type: 'DeprecationWarning', code: 'DEP0123' });
    process.emitWarning('something worth knowing', { type: 'Warning', code: 'X1' });`;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const logged = out.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; code?: string; err?: string });
  expect(logged).toEqual([expect.objectContaining({ msg: 'process warning', code: 'X1', err: 'something worth knowing' })]);
});
