/**
 * Test certificates made with the `openssl` CLI (node's crypto cannot sign X.509): a CA, and
 * leaf certificates it signs for 127.0.0.1 / localhost with a given CN (server and client use).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCa {
  name: string;
  certFile: string;
  keyFile: string;
}

export interface TestCert {
  certFile: string;
  keyFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA in `dir`. */
export function makeCa(dir: string, name: string): TestCa {
  const keyFile = join(dir, `${name}-ca.key`);
  const certFile = join(dir, `${name}-ca.crt`);
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2',
      '-subj', `/CN=Tributary test CA ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return { name, certFile, keyFile };
}

/** A leaf certificate with subject CN `cn` signed by `ca`, valid for 127.0.0.1 and localhost. */
export function makeCert(dir: string, ca: TestCa, cn: string, file = `${ca.name}-${cn}`): TestCert {
  const keyFile = join(dir, `${file}.key`);
  const csr = join(dir, `${file}.csr`);
  const certFile = join(dir, `${file}.crt`);
  const ext = join(dir, `${file}.ext`);
  writeFileSync(ext, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${cn}`], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext], dir);
  return { certFile, keyFile };
}
