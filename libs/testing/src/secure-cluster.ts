/**
 * The certificates and flags of a secured test cluster (startCluster's `commonFlags` and
 * `adminCaFile`): a CA, one certificate per service (CN = the service, a super user, so the
 * services are service principals to each other) and one for `admin` (CN admin, a super user:
 * the spec's administrator), TLS on every listener with client certificates requested, SCRAM
 * logins and the ACL authorizer on.
 */
import { mkdirSync } from 'node:fs';
import { makeCa, makeCert, type TestCa, type TestCert } from './certs';
import { tempDir } from './temp';

/** The services startCluster starts (the names its `commonFlags` function is given). */
export const CLUSTER_SERVICES = ['coordination', 'controller', 'broker', 'group-coordinator'] as const;

export interface SecureClusterOptions {
  /** SCRAM mechanisms enabled (default both). */
  saslMechanisms?: string;
  /** Extra flags of every service (or per service), merged last. */
  extraFlags?: (service: string, id: number) => Record<string, string | number | boolean>;
}

export interface SecureClusterSetup {
  ca: TestCa;
  /** The administrator's client certificate (CN admin, a super user). */
  adminCert: TestCert;
  /** The directory holding the CA, certificates and keys. */
  dir: string;
  /** For startCluster. */
  commonFlags: (service: string, id: number) => Record<string, string | number | boolean>;
  /** For startCluster: the admin ports serve HTTPS. */
  adminCaFile: string;
  /** SDK `tls` of a client without a certificate (it logs in with SCRAM). */
  clientTls: { ca: string; serverName: string };
  /** SDK `tls` of the administrator (its certificate). */
  adminTls: { ca: string; cert: string; key: string; serverName: string };
}

/** See the file header; `name` names the temp directory and the CA. */
export function secureClusterSetup(name: string, options: SecureClusterOptions = {}): SecureClusterSetup {
  const dir = tempDir(`${name}-certs`);
  mkdirSync(dir, { recursive: true });
  const ca = makeCa(dir, name);
  const certs = new Map<string, TestCert>(CLUSTER_SERVICES.map((s) => [s, makeCert(dir, ca, s)]));
  const adminCert = makeCert(dir, ca, 'admin');
  const superUsers = [...CLUSTER_SERVICES.map((s) => `User:${s}`), 'User:admin'].join(',');
  return {
    ca,
    adminCert,
    dir,
    adminCaFile: ca.certFile,
    commonFlags: (service, id) => {
      const cert = certs.get(service);
      if (!cert) throw new Error(`no certificate for service '${service}' (known: ${CLUSTER_SERVICES.join(', ')})`);
      return {
        'tls-cert-file': cert.certFile,
        'tls-key-file': cert.keyFile,
        'tls-ca-file': ca.certFile,
        'tls-client-auth': 'requested',
        'sasl-enabled-mechanisms': options.saslMechanisms ?? 'SCRAM-SHA-256,SCRAM-SHA-512',
        'authorizer-enable': true,
        'super-users': superUsers,
        ...options.extraFlags?.(service, id),
      };
    },
    clientTls: { ca: ca.certFile, serverName: 'localhost' },
    adminTls: { ca: ca.certFile, cert: adminCert.certFile, key: adminCert.keyFile, serverName: 'localhost' },
  };
}
