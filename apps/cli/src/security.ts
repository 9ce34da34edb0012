/**
 * The CLI's security options (Kafka's client `security.protocol`, `ssl.truststore.location`,
 * `ssl.keystore.location`, `sasl.mechanism`, `sasl.jaas.config`), valid before or after any
 * command and read from the environment too:
 *
 * | flag | environment | |
 * |---|---|---|
 * | `--tls-ca-file F` | TRIBUTARY_TLS_CA_FILE | TLS to the cluster, trusting the CA in F |
 * | `--tls-cert-file F`, `--tls-key-file F` | TRIBUTARY_TLS_CERT_FILE, TRIBUTARY_TLS_KEY_FILE | a client certificate (mutual TLS: principal `User:<CN>`) |
 * | `--sasl-mechanism M` | TRIBUTARY_SASL_MECHANISM | SCRAM-SHA-256 (default with a user name) or SCRAM-SHA-512 |
 * | `--sasl-username U` | TRIBUTARY_SASL_USERNAME | SCRAM user |
 * | `--sasl-password-file F` | TRIBUTARY_SASL_PASSWORD_FILE, or the password itself in TRIBUTARY_SASL_PASSWORD | |
 *
 * A password is never taken on the command line (`--sasl-password` is refused, as `users
 * create --password` is): other users of the machine see it in the process list and the shell
 * keeps it in its history.
 *
 * `describeSecurityFailure` turns the SDK's authentication and TLS failures into the one line
 * that says what to check.
 */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import type { SaslOptions, ScramMechanism, TlsOptions } from '@tributary/client';
import { NoBrokerAvailableError } from '@tributary/client';
import { ErrorCode, TributaryError } from '@tributary/records';
import { UsageError, messageOf, oneLine } from './errors';

export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** Environment variables of the security options. */
export const SECURITY_ENV = {
  tlsCaFile: 'TRIBUTARY_TLS_CA_FILE',
  tlsCertFile: 'TRIBUTARY_TLS_CERT_FILE',
  tlsKeyFile: 'TRIBUTARY_TLS_KEY_FILE',
  saslMechanism: 'TRIBUTARY_SASL_MECHANISM',
  saslUsername: 'TRIBUTARY_SASL_USERNAME',
  saslPasswordFile: 'TRIBUTARY_SASL_PASSWORD_FILE',
  saslPassword: 'TRIBUTARY_SASL_PASSWORD',
} as const;

/** The options as commander parses them (flag or environment). */
export interface SecurityFlags {
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  saslMechanism?: string;
  saslUsername?: string;
  saslPasswordFile?: string;
  /** Refused: see the module comment. */
  saslPassword?: string;
}

/** What the SDK clients get. */
export interface ClientSecurity {
  tls?: TlsOptions;
  sasl?: SaslOptions;
}

/** Adds the security options to the program (global: valid before or after any command). */
export function addSecurityOptions(program: Command): Command {
  return program
    .addOption(new Option('--tls-ca-file <file>', "connect with TLS, trusting the CA certificates (PEM) in this file (Kafka's ssl.truststore)").env(SECURITY_ENV.tlsCaFile))
    .addOption(new Option('--tls-cert-file <file>', 'client certificate (PEM) for mutual TLS: the cluster names you User:<CN> (with --tls-key-file)').env(SECURITY_ENV.tlsCertFile))
    .addOption(new Option('--tls-key-file <file>', 'private key (PEM) of --tls-cert-file').env(SECURITY_ENV.tlsKeyFile))
    .addOption(new Option('--sasl-mechanism <mechanism>', 'SCRAM mechanism: SCRAM-SHA-256 (default) or SCRAM-SHA-512').env(SECURITY_ENV.saslMechanism))
    .addOption(new Option('--sasl-username <user>', 'log in with SCRAM as this user (password from --sasl-password-file or TRIBUTARY_SASL_PASSWORD)').env(SECURITY_ENV.saslUsername))
    .addOption(new Option('--sasl-password-file <file>', 'read the SCRAM password from this file (one line); or set TRIBUTARY_SASL_PASSWORD').env(SECURITY_ENV.saslPasswordFile))
    .addOption(new Option('--sasl-password <password>', 'refused: a password on the command line leaks (process list, shell history)').hideHelp());
}

function readable(file: string, flag: string): string {
  try {
    readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${flag} ${file}: ${messageOf(e)}`);
  }
  return file;
}

/** `scram-sha-512` → `SCRAM-SHA-512`; else a UsageError. */
export function parseSaslMechanism(value: string): ScramMechanism {
  const m = SCRAM_MECHANISMS.find((x) => x === value.trim().toUpperCase());
  if (m === undefined) throw new UsageError(`unknown --sasl-mechanism '${value}': SCRAM-SHA-256 or SCRAM-SHA-512`);
  return m;
}

/**
 * The SDK's `tls` and `sasl` options for the flags (`env` holds TRIBUTARY_SASL_PASSWORD);
 * throws a UsageError (exit 2) for an inconsistent or unreadable set.
 */
export function clientSecurity(flags: SecurityFlags, env: NodeJS.ProcessEnv = process.env): ClientSecurity {
  if (flags.saslPassword !== undefined) {
    throw new UsageError(
      `--sasl-password is not accepted: a password on the command line is visible to other users (process list) and kept in shell history; use --sasl-password-file <file> or the environment variable ${SECURITY_ENV.saslPassword}`,
    );
  }
  const out: ClientSecurity = {};
  const { tlsCaFile, tlsCertFile, tlsKeyFile } = flags;
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw new UsageError(tlsCertFile === undefined ? '--tls-key-file needs --tls-cert-file (the certificate of that key)' : '--tls-cert-file needs --tls-key-file (its private key)');
  }
  if (tlsCaFile !== undefined || tlsCertFile !== undefined) {
    const tls: TlsOptions = {};
    if (tlsCaFile !== undefined) {
      tls.ca = readable(tlsCaFile, '--tls-ca-file');
    }
    if (tlsCertFile !== undefined && tlsKeyFile !== undefined) {
      tls.cert = readable(tlsCertFile, '--tls-cert-file');
      tls.key = readable(tlsKeyFile, '--tls-key-file');
    }
    out.tls = tls;
  }
  const envPassword = env[SECURITY_ENV.saslPassword];
  const username = flags.saslUsername?.trim();
  if (username === undefined || username === '') {
    if (flags.saslMechanism !== undefined) throw new UsageError('--sasl-mechanism needs --sasl-username (and a password: --sasl-password-file or TRIBUTARY_SASL_PASSWORD)');
    if (flags.saslPasswordFile !== undefined) throw new UsageError('--sasl-password-file needs --sasl-username');
    return out;
  }
  const mechanism = flags.saslMechanism === undefined ? 'SCRAM-SHA-256' : parseSaslMechanism(flags.saslMechanism);
  let password: string;
  if (flags.saslPasswordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.saslPasswordFile, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read --sasl-password-file ${flags.saslPasswordFile}: ${messageOf(e)}`);
    }
    password = text.replace(/\r?\n$/, '');
    if (password === '') throw new UsageError(`the password in --sasl-password-file ${flags.saslPasswordFile} is empty: put the password in it (one line)`);
  } else if (envPassword !== undefined && envPassword !== '') {
    password = envPassword;
  } else {
    throw new UsageError(`--sasl-username ${username} needs a password: --sasl-password-file <file>, or the environment variable ${SECURITY_ENV.saslPassword}`);
  }
  out.sasl = { mechanism, username, password };
  return out;
}

/** What error messages name: the TLS CA file and the SCRAM user (never the password). */
export interface SecuritySummary {
  tls: boolean;
  tlsCaFile?: string;
  sasl?: { username: string; mechanism: string };
}

/** The summary of the flags (no file read, nothing checked: the flags were checked before the failure). */
export function securitySummary(flags: SecurityFlags): SecuritySummary {
  const username = flags.saslUsername?.trim();
  return {
    tls: flags.tlsCaFile !== undefined || flags.tlsCertFile !== undefined,
    ...(flags.tlsCaFile !== undefined ? { tlsCaFile: flags.tlsCaFile } : {}),
    ...(username ? { sasl: { username, mechanism: (flags.saslMechanism ?? 'SCRAM-SHA-256').toUpperCase() } } : {}),
  };
}

/** Every message in the error's cause chain, for classifying transport failures. */
function chain(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e, depth = 0; c !== undefined && c !== null && depth < 8; depth++) {
    if (c instanceof Error) {
      parts.push(c.message);
      c = c.cause;
    } else {
      parts.push(String(c));
      break;
    }
  }
  return parts.join(' | ');
}

/** grpc-js / OpenSSL wording of a failed TLS handshake (certificate not trusted, bad alert, ...). */
const TLS_FAILURE = /certificate|self[- ]signed|SSL|TLS|handshake|alert|unable to (get|verify)|CERT_|wrong version number|ERR_TLS|altnames/i;

/**
 * The one line for an authentication or TLS failure, or undefined when `e` is something else
 * (the caller reports it as it is).
 */
export function describeSecurityFailure(e: unknown, security: SecuritySummary): string | undefined {
  if (e instanceof UsageError) return undefined;
  if (e instanceof TributaryError && e.code === ErrorCode.SASL_AUTHENTICATION_FAILED) {
    const detail = oneLine(e.message).replace(/^Authentication failed:\s*/i, '');
    if (security.sasl !== undefined) {
      return `authentication of ${security.sasl.username} with ${security.sasl.mechanism} failed (SASL_AUTHENTICATION_FAILED: ${detail}): check the user name (--sasl-username) and the password (--sasl-password-file or TRIBUTARY_SASL_PASSWORD), and that the user has a ${security.sasl.mechanism} credential (\`tributary users list\`)`;
    }
    return `the cluster requires authentication (SASL_AUTHENTICATION_FAILED: ${detail}): log in with --sasl-mechanism, --sasl-username and --sasl-password-file (or TRIBUTARY_SASL_PASSWORD), or present a client certificate with --tls-cert-file and --tls-key-file`;
  }
  const unreachable = e instanceof NoBrokerAvailableError;
  const text = chain(e);
  if (security.tls && TLS_FAILURE.test(text)) {
    const where = unreachable ? ` with ${e.addresses.join(',')}` : '';
    const ca =
      security.tlsCaFile !== undefined
        ? `check that --tls-ca-file ${security.tlsCaFile} holds the CA that signed the cluster's certificates (and that the address dialled is a name in them)`
        : "give --tls-ca-file <file> with the CA that signed the cluster's certificates";
    return `TLS handshake${where} failed (${oneLine(tlsDetail(text))}): ${ca}`;
  }
  if (!security.tls && unreachable && PLAINTEXT_TO_TLS.test(text)) {
    return `no broker reachable at ${e.addresses.join(',')}: something answers there but the connection failed (${oneLine(tlsDetail(text))}); if the cluster serves TLS (\`npm start -- --secure\`), give --tls-ca-file <its CA file>, else check --bootstrap`;
  }
  return undefined;
}

/**
 * grpc-js's words when a listener accepted the TCP connection but the HTTP/2 session failed:
 * what a plaintext client gets from a TLS-only listener (nothing listening is ECONNREFUSED).
 */
const PLAINTEXT_TO_TLS = /Failed to connect|ECONNRESET|Connection dropped|Protocol error|socket hang up/;

/** The most telling part of a TLS failure's messages (grpc-js: `... Last error: Error: <what>. Resolution note: ...`). */
export function tlsDetail(text: string): string {
  const parts = text.split(' | ');
  const hit = [...parts].reverse().find((p) => TLS_FAILURE.test(p)) ?? parts[0] ?? text;
  const m = /Last error: (?:Error: )?(.*?)(?:\.? Resolution note:.*)?$/.exec(hit);
  const detail = (m?.[1] ?? hit).replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/, '').trim();
  return detail.length > 200 ? `${detail.slice(0, 200)}...` : detail;
}
