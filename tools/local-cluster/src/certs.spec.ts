/**
 * The local CA and certificates of `--secure` (certs.ts), made by the real `openssl` CLI in a
 * temp directory: what is made (CN, SAN, chain, key modes), reuse on the next start, and
 * making again what is missing, expiring, broken or signed by another CA.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeTempDirs, tempDir } from '@tributary/testing';
import { ensureCertificates, validLeaf } from './certs';

const NAMES = ['broker', 'controller', 'admin'];
let dir: string;

beforeAll(() => {
  dir = path.join(tempDir('local-cluster-certs'), 'tls');
});

afterAll(() => removeTempDirs());

const cert = (name: string): X509Certificate => new X509Certificate(fs.readFileSync(path.join(dir, `${name}.crt`)));
const mode = (file: string): number => fs.statSync(path.join(dir, file)).mode & 0o777;

it('makes a CA and one certificate per name: CN = the name, 127.0.0.1 and localhost, signed by the CA, keys 0600', () => {
  const report = ensureCertificates(dir, NAMES);
  expect(report.created.map((f) => path.basename(f))).toEqual(['ca.crt', 'broker.crt', 'controller.crt', 'admin.crt']);
  const ca = cert('ca');
  expect(ca.ca).toBe(true);
  for (const name of NAMES) {
    const c = cert(name);
    expect(c.subject).toBe(`CN=${name}`);
    expect(c.ca).toBe(false);
    expect(c.verify(ca.publicKey)).toBe(true);
    expect(c.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(c.checkHost('localhost')).toBe('localhost');
    expect(c.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])); // serverAuth, clientAuth
    expect(c.checkPrivateKey(createPrivateKey(fs.readFileSync(path.join(dir, `${name}.key`))))).toBe(true);
    expect(mode(`${name}.key`)).toBe(0o600);
  }
  expect(mode('ca.key')).toBe(0o600);
  expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  // No CSR, extension or serial file left behind.
  expect(fs.readdirSync(dir).sort()).toEqual(['admin.crt', 'admin.key', 'broker.crt', 'broker.key', 'ca.crt', 'ca.key', 'controller.crt', 'controller.key']);
});

it('reuses valid files on the next start, byte for byte', () => {
  const before = fs.readFileSync(path.join(dir, 'broker.crt'));
  const report = ensureCertificates(dir, NAMES);
  expect(report.created).toEqual([]);
  expect(fs.readFileSync(path.join(dir, 'broker.crt')).equals(before)).toBe(true);
});

it('makes again a missing, broken or expiring certificate, and only that one', () => {
  fs.rmSync(path.join(dir, 'admin.crt'));
  fs.writeFileSync(path.join(dir, 'controller.key'), 'not a key');
  const before = fs.readFileSync(path.join(dir, 'broker.crt'));
  expect(ensureCertificates(dir, NAMES).created.map((f) => path.basename(f))).toEqual(['controller.crt', 'admin.crt']);
  expect(fs.readFileSync(path.join(dir, 'broker.crt')).equals(before)).toBe(true);
});

it('a certificate in its last 30 days is not valid (made again at start)', () => {
  const files = { certFile: path.join(dir, 'broker.crt'), keyFile: path.join(dir, 'broker.key') };
  const ca = cert('ca');
  expect(validLeaf(files, ca, 'broker', Date.now() + 300 * 24 * 3600 * 1000)).toBe(true);
  expect(validLeaf(files, ca, 'broker', Date.now() + 390 * 24 * 3600 * 1000)).toBe(false);
});

it('a certificate of another CA, or with another CN, is not valid: a new CA makes every certificate again', () => {
  const other = path.join(dir, '..', 'other');
  ensureCertificates(other, ['broker']);
  const ca = cert('ca');
  const files = (d: string, n: string) => ({ certFile: path.join(d, `${n}.crt`), keyFile: path.join(d, `${n}.key`) });
  expect(validLeaf(files(dir, 'broker'), ca, 'broker')).toBe(true);
  expect(validLeaf(files(other, 'broker'), ca, 'broker')).toBe(false);
  expect(validLeaf(files(dir, 'broker'), ca, 'controller')).toBe(false);
  fs.rmSync(path.join(dir, 'ca.key'));
  expect(ensureCertificates(dir, NAMES).created.map((f) => path.basename(f))).toEqual(['ca.crt', 'broker.crt', 'controller.crt', 'admin.crt']);
});
