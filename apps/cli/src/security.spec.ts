/**
 * The CLI's security options: flags and environment → the SDK's `tls` / `sasl`, refusals
 * (exit 2, one line), and the one-line reports of authentication and TLS failures. The TLS
 * case runs `run()` in process against a REAL TLS listener (node:http2 with a certificate
 * made by the `openssl` CLI) that the CLI does not trust.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { NoBrokerAvailableError } from '@tributary/client';
import { ErrorCode, TributaryError } from '@tributary/records';
import { cleanupAll, tempDir } from '@tributary/testing';
import { clientOptions } from './context';
import { UsageError } from './errors';
import { run } from './program';
import { clientSecurity, describeSecurityFailure, securitySummary, tlsDetail } from './security';

jest.setTimeout(30_000);

let dir: string;
let caFile: string;
let otherCaFile: string;
let certFile: string;
let keyFile: string;
let passwordFile: string;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ca(name: string): string {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return join(dir, `${name}.crt`);
}

beforeAll(() => {
  dir = tempDir('cli-security');
  caFile = ca('ca');
  otherCaFile = ca('other-ca');
  writeFileSync(join(dir, 'leaf.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=broker']);
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-days', '1', '-extfile', 'leaf.ext']);
  certFile = join(dir, 'leaf.crt');
  keyFile = join(dir, 'leaf.key');
  passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, 'from-the-file\n', { mode: 0o600 });
});

afterAll(async () => {
  await cleanupAll();
});

describe('clientSecurity', () => {
  it('without options: plaintext and anonymous, as before', () => {
    expect(clientSecurity({}, {})).toEqual({});
    expect(clientOptions({ bootstrap: ['127.0.0.1:7200'], requestTimeoutMs: 1000, security: {} })).not.toHaveProperty('tls');
  });

  it('TLS: the CA alone, or with a client certificate and key', () => {
    expect(clientSecurity({ tlsCaFile: caFile }, {})).toEqual({ tls: { ca: caFile } });
    expect(clientSecurity({ tlsCaFile: caFile, tlsCertFile: certFile, tlsKeyFile: keyFile }, {})).toEqual({ tls: { ca: caFile, cert: certFile, key: keyFile } });
    const options = clientOptions({ bootstrap: ['127.0.0.1:7200'], requestTimeoutMs: 1000, security: clientSecurity({ tlsCaFile: caFile }, {}) });
    expect(options.tls).toEqual({ ca: caFile });
  });

  it('refuses a certificate without its key (and the reverse), and unreadable files, naming the flag', () => {
    expect(() => clientSecurity({ tlsCertFile: certFile }, {})).toThrow(/--tls-cert-file needs --tls-key-file/);
    expect(() => clientSecurity({ tlsKeyFile: keyFile }, {})).toThrow(/--tls-key-file needs --tls-cert-file/);
    expect(() => clientSecurity({ tlsCaFile: join(dir, 'missing.crt') }, {})).toThrow(/cannot read --tls-ca-file .*missing\.crt/);
  });

  it('SCRAM: the password from --sasl-password-file (one newline removed) before TRIBUTARY_SASL_PASSWORD', () => {
    expect(clientSecurity({ saslUsername: 'admin', saslMechanism: 'scram-sha-512', saslPasswordFile: passwordFile }, { TRIBUTARY_SASL_PASSWORD: 'from-env' })).toEqual({
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'admin', password: 'from-the-file' },
    });
    expect(clientSecurity({ saslUsername: 'admin' }, { TRIBUTARY_SASL_PASSWORD: 'from-env' })).toEqual({
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'admin', password: 'from-env' },
    });
  });

  it('refuses --sasl-password, a user without a password, and half-given SCRAM options', () => {
    const refused = (): unknown => clientSecurity({ saslUsername: 'admin', saslPassword: 'secret' }, {});
    expect(refused).toThrow(UsageError);
    expect(refused).toThrow(/--sasl-password is not accepted.*--sasl-password-file.*TRIBUTARY_SASL_PASSWORD/);
    expect(() => clientSecurity({ saslUsername: 'admin' }, {})).toThrow(/needs a password: --sasl-password-file <file>, or the environment variable TRIBUTARY_SASL_PASSWORD/);
    expect(() => clientSecurity({ saslMechanism: 'SCRAM-SHA-256' }, {})).toThrow(/--sasl-mechanism needs --sasl-username/);
    expect(() => clientSecurity({ saslUsername: 'admin', saslMechanism: 'PLAIN' }, { TRIBUTARY_SASL_PASSWORD: 'x' })).toThrow(/unknown --sasl-mechanism 'PLAIN'/);
    writeFileSync(join(dir, 'empty'), '\n');
    expect(() => clientSecurity({ saslUsername: 'admin', saslPasswordFile: join(dir, 'empty') }, {})).toThrow(/is empty/);
  });
});

describe('describeSecurityFailure', () => {
  const sasl = securitySummary({ saslUsername: 'admin', saslMechanism: 'SCRAM-SHA-512', tlsCaFile: '/x/ca.crt' });

  it('SASL_AUTHENTICATION_FAILED with credentials: one line telling to check the user name and password', () => {
    const line = describeSecurityFailure(new TributaryError(ErrorCode.SASL_AUTHENTICATION_FAILED, 'Authentication failed: invalid credentials'), sasl);
    expect(line).toBe(
      'authentication of admin with SCRAM-SHA-512 failed (SASL_AUTHENTICATION_FAILED: invalid credentials): check the user name (--sasl-username) and the password (--sasl-password-file or TRIBUTARY_SASL_PASSWORD), and that the user has a SCRAM-SHA-512 credential (`tributary users list`)',
    );
  });

  it('SASL_AUTHENTICATION_FAILED without credentials: says how to log in', () => {
    const line = describeSecurityFailure(new TributaryError(ErrorCode.SASL_AUTHENTICATION_FAILED, 'authentication required'), securitySummary({ tlsCaFile: '/x/ca.crt' }));
    expect(line).toMatch(/^the cluster requires authentication \(SASL_AUTHENTICATION_FAILED: authentication required\): log in with --sasl-mechanism, --sasl-username/);
  });

  it('a TLS failure names the CA file; the same failure without TLS options is left to the usual report', () => {
    const grpc = new Error('No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ');
    const e = new NoBrokerAvailableError(['127.0.0.1:7200'], grpc);
    expect(describeSecurityFailure(e, sasl)).toBe(
      "TLS handshake with 127.0.0.1:7200 failed (unable to verify the first certificate): check that --tls-ca-file /x/ca.crt holds the CA that signed the cluster's certificates (and that the address dialled is a name in them)",
    );
    expect(describeSecurityFailure(e, securitySummary({}))).toBeUndefined();
    expect(describeSecurityFailure(new UsageError('--tls-cert-file needs --tls-key-file'), sasl)).toBeUndefined();
    expect(tlsDetail('x | No connection established. Last error: Error: self-signed certificate in certificate chain. Resolution note: ')).toBe('self-signed certificate in certificate chain');
  });
});

describe('run() against a real TLS listener', () => {
  let server: http2.Http2SecureServer;
  let address: string;

  beforeAll(async () => {
    server = http2.createSecureServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const code = await run(['--bootstrap', address, '--request-timeout-ms', '3000', ...args], { stdin: new PassThrough(), stdout, stderr, stderrIsTTY: false });
    return { code, stderr: err };
  }

  it('a CA that did not sign the server certificate: exit 1, one line naming the CA file', async () => {
    const r = await cli(['--tls-ca-file', otherCaFile, 'topics', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^tributary: TLS handshake with ${address} failed \\(.*certificate.*\\): check that --tls-ca-file ${otherCaFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds the CA`));
  });

  it('a plaintext CLI against the TLS listener: exit 1, one line suggesting --tls-ca-file', async () => {
    const r = await cli(['topics', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `tributary: no broker reachable at ${address}: something answers there but the connection failed (Failed to connect); if the cluster serves TLS (\`npm start -- --secure\`), give --tls-ca-file <its CA file>, else check --bootstrap\n`,
    );
  });

  it('--sasl-password on the command line: exit 2 before any connection', async () => {
    const r = await cli(['--sasl-username', 'admin', '--sasl-password', 'secret', 'topics', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tributary: --sasl-password is not accepted/);
    expect(r.stderr).not.toContain('secret');
  });
});
