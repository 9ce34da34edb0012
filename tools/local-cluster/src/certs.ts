/**
 * The local cluster's certificates for `--secure`: a local CA and one certificate per
 * principal (each service's CN is its service principal, `User:broker`, ..., plus the `admin`
 * client), made with the `openssl` CLI (Node's crypto cannot sign X.509) under
 * `<data-dir>/tls/`, and kept: the next start reuses every file that is still valid and makes
 * again only what is missing, expiring, or not signed by the CA.
 *
 * Files: `ca.crt` (give it to clients: `--tls-ca-file`), `ca.key`, `<name>.crt`, `<name>.key`.
 * Keys are written 0600 (openssl writes them under a 077 umask; the mode is set again
 * afterwards), the directory 0700. Leaf certificates: EC P-256, SAN `IP:127.0.0.1,
 * DNS:localhost` (the addresses the local cluster listens on), extended key usage server and
 * client (a service presents its certificate to the services it calls), 397 days; the CA: 10
 * years. A certificate expiring within 30 days is made again at start.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Subfolder of the data directory. */
export const TLS_DIR = 'tls';

const CA_DAYS = 3650;
const LEAF_DAYS = 397;
/** A certificate with less than this left is made again at start. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

export interface LocalCa extends CertFiles {
  dir: string;
}

/** What {@link ensureCertificates} did, for the console. */
export interface CertReport {
  ca: LocalCa;
  /** Per name: its files. */
  certs: Map<string, CertFiles>;
  /** Files made at this start (the others were reused). */
  created: string[];
}

/** A failure of the `openssl` CLI (missing, or refusing the command): the message says which. */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new CertificateError('--secure needs the `openssl` command to make the local CA and certificates: install it (e.g. `apt-get install openssl`)');
    const detail = err.stderr?.toString('utf8').trim().split('\n').slice(-2).join(' ') ?? err.message;
    throw new CertificateError(`openssl ${args[0]} failed: ${detail}`);
  }
}

function readCert(file: string): X509Certificate | undefined {
  try {
    return new X509Certificate(fs.readFileSync(file));
  } catch {
    return undefined;
  }
}

/** Valid now (a minute of slack: one just made starts at the current second) and not about to expire. */
function fresh(cert: X509Certificate, nowMs: number): boolean {
  return Date.parse(cert.validFrom) <= nowMs + 60_000 && Date.parse(cert.validTo) - nowMs > RENEW_BEFORE_MS;
}

/** Whether `certFile`/`keyFile` make a valid pair for `cn`, signed by `ca`, fresh, for 127.0.0.1 and localhost. */
export function validLeaf(files: CertFiles, ca: X509Certificate, cn: string, nowMs = Date.now()): boolean {
  const cert = readCert(files.certFile);
  if (cert === undefined || !fresh(cert, nowMs)) return false;
  if (!cert.verify(ca.publicKey) || cert.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) !== cn) return false;
  if (cert.checkIP('127.0.0.1') === undefined || cert.checkHost('localhost') === undefined) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(fs.readFileSync(files.keyFile)));
  } catch {
    return false;
  }
}

function validCa(files: CertFiles, nowMs: number): X509Certificate | undefined {
  const cert = readCert(files.certFile);
  if (cert === undefined || !cert.ca || !fresh(cert, nowMs)) return undefined;
  try {
    return cert.checkPrivateKey(createPrivateKey(fs.readFileSync(files.keyFile))) ? cert : undefined;
  } catch {
    return undefined;
  }
}

function privateFile(file: string): void {
  fs.chmodSync(file, 0o600);
}

/** Makes the local CA in `dir` (overwriting). */
function makeCa(dir: string, files: CertFiles): void {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.keyFile, '-out', files.certFile, '-days', String(CA_DAYS),
      '-subj', '/CN=Tributary local cluster CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  privateFile(files.keyFile);
}

/** Makes `<name>.crt` / `<name>.key` in `dir`, CN `name`, signed by `ca` (overwriting). */
function makeLeaf(dir: string, ca: CertFiles, name: string, files: CertFiles): void {
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  try {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.keyFile, '-out', csr, '-subj', `/CN=${name}`], dir);
    privateFile(files.keyFile);
    openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${serial()}`, '-out', files.certFile, '-days', String(LEAF_DAYS), '-extfile', ext], dir);
  } finally {
    fs.rmSync(csr, { force: true });
    fs.rmSync(ext, { force: true });
  }
}

/** A random positive 64-bit serial (hex), so no serial file is kept. */
function serial(): string {
  const bytes = randomBytes(8);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString('hex');
}

/**
 * The CA and a certificate for each of `names` under `dir` (made if missing or no longer
 * valid; a new CA makes every certificate again). Throws {@link CertificateError}.
 */
export function ensureCertificates(dir: string, names: readonly string[], nowMs = Date.now()): CertReport {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const created: string[] = [];
  const ca: LocalCa = { dir, certFile: path.join(dir, 'ca.crt'), keyFile: path.join(dir, 'ca.key') };
  let caCert = validCa(ca, nowMs);
  if (caCert === undefined) {
    makeCa(dir, ca);
    created.push(ca.certFile);
    caCert = validCa(ca, nowMs);
    if (caCert === undefined) throw new CertificateError(`the CA just made in ${dir} does not load: check the openssl installation`);
  }
  const certs = new Map<string, CertFiles>();
  for (const name of names) {
    const files = { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
    if (!validLeaf(files, caCert, name, nowMs)) {
      makeLeaf(dir, ca, name, files);
      created.push(files.certFile);
      if (!validLeaf(files, caCert, name, nowMs)) throw new CertificateError(`the certificate just made for ${name} in ${dir} does not check out: check the openssl installation`);
    }
    privateFile(files.keyFile);
    certs.set(name, files);
  }
  return { ca, certs, created };
}
