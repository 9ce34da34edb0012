import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { createLogger } from '../logger';
import { makeCa, makeCert, type TestCa, type TestCert } from '@tributary/testing';
import { ReloadingServerTls, clientCredentials, principalFromCertificate, validateServerTls } from './tls';

const logger = createLogger({ service: 'tls-spec', nodeId: 0, level: 'silent' });
let dir: string;
let ca: TestCa;
let first: TestCert;
let second: TestCert;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-tls-spec-'));
  ca = makeCa(dir, 'spec');
  first = makeCert(dir, ca, 'one');
  second = makeCert(dir, ca, 'two');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function live(cert: TestCert): { certFile: string; keyFile: string } {
  copyFileSync(cert.certFile, join(dir, 'live.crt'));
  copyFileSync(cert.keyFile, join(dir, 'live.key'));
  return { certFile: join(dir, 'live.crt'), keyFile: join(dir, 'live.key') };
}

test('reloads changed files, and keeps the previous pair while the new one does not load', () => {
  const tls = new ReloadingServerTls({ ...live(first), reloadIntervalMs: 0 }, logger);
  const seen: Buffer[] = [];
  tls.onChange((o) => seen.push(o.cert as Buffer));
  expect(tls.check()).toBe(false); // unchanged
  // Half-way through a rotation: the new certificate with the old key.
  copyFileSync(second.certFile, join(dir, 'live.crt'));
  expect(tls.check()).toBe(false);
  expect((tls.secureContextOptions().cert as Buffer).equals(readFileSync(first.certFile))).toBe(true);
  copyFileSync(second.keyFile, join(dir, 'live.key'));
  expect(tls.check()).toBe(true);
  expect(seen).toHaveLength(1);
  expect(seen[0]!.equals(readFileSync(second.certFile))).toBe(true);
  tls.close();
});

test('refuses bad configurations at start-up with what to fix', () => {
  expect(() => validateServerTls({ ...live(first), requireClientCert: true })).toThrow(/needs a CA file/);
  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate');
  expect(() => validateServerTls({ certFile: join(dir, 'garbage.pem'), keyFile: first.keyFile })).toThrow(/cannot load TLS certificate/);
  expect(() => validateServerTls({ certFile: first.certFile, keyFile: second.keyFile })).toThrow(/cannot load TLS certificate/);
  expect(() => clientCredentials({ caFile: ca.certFile, certFile: first.certFile })).toThrow(/certificate and key go together/);
});

test('principal from a client certificate CN', () => {
  expect(principalFromCertificate({ subject: { CN: 'broker-1' } } as unknown as PeerCertificate)).toBe('User:broker-1');
  expect(principalFromCertificate({ subject: { O: 'acme' } } as unknown as PeerCertificate)).toBeUndefined();
  expect(principalFromCertificate(undefined)).toBeUndefined();
});
