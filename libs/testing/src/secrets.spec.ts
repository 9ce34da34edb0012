import { assertNoSecretsLogged, registerTestSecret } from './secrets';
import { spawnProcess } from './process';

const run = async (text: string): Promise<void> => {
  const p = spawnProcess({ command: process.execPath, args: ['-e', `console.log(${JSON.stringify(text)})`], name: 'echo' });
  await p.exited;
};

test('a session token or a registered secret in a process output fails the check, once', async () => {
  registerTestSecret('hunter2-secret');
  await run('{"level":"info","msg":"login ok","user":"alice"}');
  expect(() => assertNoSecretsLogged()).not.toThrow();
  // A token's shape: base64url of {"v":1,...} claims, a dot, a 32-byte MAC in base64url.
  const token = `${Buffer.from('{"v":1,"sub":"User:alice","iat":1,"exp":2,"jti":"x","kid":1}').toString('base64url')}.${Buffer.alloc(32, 7).toString('base64url')}`;
  await run(`authorization: Bearer ${token}`);
  expect(() => assertNoSecretsLogged()).toThrow(/echo wrote a session token/);
  await run('password=hunter2-secret');
  expect(() => assertNoSecretsLogged()).toThrow(/echo wrote a registered secret \(14 characters\)/);
  expect(() => assertNoSecretsLogged()).not.toThrow();
  expect(() => registerTestSecret('abc')).toThrow(RangeError);
});
