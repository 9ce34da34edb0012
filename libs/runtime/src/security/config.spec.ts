import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../logger';
import { makeCa, makeCert, type TestCa, type TestCert } from '@tributary/testing';
import { MemorySecurityStore } from './memory-store';
import { securityConfigShape, securityFromConfig, serviceClientSecurity } from './config';

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

test('requested client certificates (ssl.client.auth=requested): asked for, not required', () => {
  const security = securityFromConfig(load(['--tls-cert-file', cert.certFile, '--tls-key-file', cert.keyFile, '--tls-ca-file', ca.certFile, '--tls-client-auth', 'requested']), {
    logger,
    store: new MemorySecurityStore(),
  });
  expect(security.tls?.mutual).toBe(false);
  expect(security.tls?.requestsClientCert).toBe(true);
  // Certificates alone (no SASL) still need the authenticator: it turns them into principals.
  expect(security.authenticator).toBeDefined();
  security.close();
  expect(() => securityFromConfig(load(['--tls-cert-file', cert.certFile, '--tls-key-file', cert.keyFile, '--tls-client-auth', 'requested']), { logger })).toThrow(/--tls-ca-file/);
});

test("the service's own login: a password file, never a password flag; the token goes on its calls", async () => {
  const passwordFile = join(dir, 'broker.password');
  writeFileSync(passwordFile, 'broker-secret\n', { mode: 0o600 });
  const client = serviceClientSecurity(load(['--sasl-username', 'broker', '--sasl-password-file', passwordFile, '--sasl-mechanism', 'SCRAM-SHA-256']), { logger, loginAddress: '127.0.0.1:1' });
  expect(client.clientOptions.sasl).toEqual({ mechanism: 'SCRAM-SHA-256', username: 'broker', password: 'broker-secret' });
  expect(client.clientOptions.authToken).toBeInstanceOf(Function);
  client.close();
  expect(() => serviceClientSecurity(load(['--sasl-username', 'broker']), { logger, loginAddress: 'x:1' })).toThrow(/--sasl-password-file/);
  expect(() => serviceClientSecurity(load(['--sasl-username', 'broker', '--sasl-password-file', join(dir, 'none')]), { logger, loginAddress: 'x:1' })).toThrow(/cannot read --sasl-password-file/);
  expect(() => serviceClientSecurity(load(['--sasl-username', 'broker', '--sasl-password-file', passwordFile]), { logger })).toThrow(/nothing to log in to/);
  expect(() => load(['--sasl-password', 'x'])).toThrow(ConfigError);
  // Without a login the identity is the certificate (or none): no token source.
  expect(serviceClientSecurity(load([]), { logger }).clientOptions).toEqual({});
});
