import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../logger';
import { makeCa, makeCert, type TestCa, type TestCert } from './it/certs';
import { MemorySecurityStore } from './memory-store';
import { securityConfigShape, securityFromConfig } from './config';

const schema = z.object({ nodeId: z.string().default('n'), ...securityConfigShape });
const logger = createLogger({ service: 'security-config-spec', nodeId: 0, level: 'silent' });
const load = (argv: string[]) => loadConfig({ service: 'test', schema, argv, env: {} });

let dir: string;
let ca: TestCa;
let cert: TestCert;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-security-config-'));
  ca = makeCa(dir, 'cfg');
  cert = makeCert(dir, ca, 'localhost');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('defaults: no TLS, no authentication — plaintext and anonymous as before', () => {
  const config = load([]);
  expect(config).toMatchObject({ tlsClientAuth: 'none', saslEnabledMechanisms: [], superUsers: [], tokenLifetimeMs: 3_600_000, allowAnonymous: false });
  const security = securityFromConfig(config, { logger });
  expect(security.tls).toBeUndefined();
  expect(security.authenticator).toBeUndefined();
  expect(security.clientTls).toBeUndefined();
});

test("Kafka-named flags: mechanisms, super users, mutual TLS", () => {
  const config = load([
    '--tls-cert-file', cert.certFile, '--tls-key-file', cert.keyFile, '--tls-ca-file', ca.certFile, '--tls-client-auth', 'required',
    '--sasl-enabled-mechanisms', 'SCRAM-SHA-512', '--super-users', 'User:broker,User:admin', '--token-lifetime-ms', '60000',
  ]);
  expect(config.superUsers).toEqual(['User:broker', 'User:admin']);
  const security = securityFromConfig(config, { logger, store: new MemorySecurityStore() });
  expect(security.tls?.mutual).toBe(true);
  expect(security.clientTls).toEqual({ caFile: ca.certFile, certFile: cert.certFile, keyFile: cert.keyFile });
  expect(security.authenticator?.isServicePrincipal('User:broker')).toBe(true);
  security.close();
});

test('one-line errors for inconsistent settings', () => {
  expect(() => securityFromConfig(load(['--tls-cert-file', cert.certFile]), { logger })).toThrow(ConfigError);
  expect(() => securityFromConfig(load(['--tls-cert-file', cert.certFile]), { logger })).toThrow(/--tls-key-file/);
  expect(() => securityFromConfig(load(['--tls-cert-file', cert.certFile, '--tls-key-file', cert.keyFile, '--tls-client-auth', 'required']), { logger })).toThrow(/--tls-ca-file/);
  expect(() => securityFromConfig(load(['--tls-cert-file', join(dir, 'missing.pem'), '--tls-key-file', cert.keyFile]), { logger })).toThrow(/cannot load TLS certificate/);
  expect(() => securityFromConfig(load(['--sasl-enabled-mechanisms', 'SCRAM-SHA-256']), { logger })).toThrow(/coordination store/);
  expect(() => load(['--sasl-enabled-mechanisms', 'PLAIN'])).toThrow(ConfigError);
  expect(() => load(['--super-users', 'admin'])).toThrow(ConfigError);
});
