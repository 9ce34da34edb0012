/**
 * "A grep of all logs from the test run finds no password or token", done as the run goes:
 * every line a process started by the harness writes (services, the CLI) is checked for a
 * Tributary session token (its `{"v":1,…}` claims in base64url, then a dot and the MAC) and for
 * the secrets a spec registered (`registerTestSecret(password)`). `cleanupAll()` — every
 * integration spec's afterAll — fails the spec if any was seen, naming the process and the
 * kind of secret (never the secret itself).
 */

/** A session token (libs/runtime security/token.ts): base64url('{"v":1,' …) "." base64url(HMAC-SHA-256). */
const TOKEN_PATTERN = /eyJ2IjoxLC[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{43}/;

const secrets = new Set<string>();
const leaks: string[] = [];

/** Makes the harness look for `secret` (a password a spec uses) in every process's output. */
export function registerTestSecret(secret: string): void {
  if (secret.length < 6) throw new RangeError('register secrets of at least 6 characters (shorter ones match ordinary text)');
  secrets.add(secret);
}

/** Checks one output line of process `name`. */
export function scanOutputLine(name: string, line: string): void {
  if (TOKEN_PATTERN.test(line)) leaks.push(`${name} wrote a session token`);
  for (const secret of secrets) if (line.includes(secret)) leaks.push(`${name} wrote a registered secret (${secret.length} characters)`);
}

/** Throws if any process wrote a token or a registered secret since the last call; resets. */
export function assertNoSecretsLogged(): void {
  if (leaks.length === 0) return;
  const found = [...new Set(leaks)];
  leaks.length = 0;
  throw new Error(`secrets in process output: ${found.join('; ')}`);
}
