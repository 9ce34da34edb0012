/**
 * SCRAM credential administration for {@link Admin}: Kafka's describeUserScramCredentials /
 * alterUserScramCredentials (KIP-554) over the active controller's UserAdminService
 * (proto/tributary/v1/users.proto), following the controller as every other Admin call does.
 *
 * The password never leaves this process: as Kafka's client does, an upsertion picks a random
 * 32-byte salt and sends SaltedPassword = Hi(password, salt, iterations) (the runtime's SCRAM
 * primitives); the controller derives and stores StoredKey and ServerKey.
 */
import { randomBytes } from 'node:crypto';
import type { ScramCredentialUpsertion } from '@tributary/proto';
import { UserAdminServiceClient } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { ClientRequest, ClientResponse, MethodsOfKind, ScramMechanism } from '@tributary/runtime';
import { SCRAM_DEFAULT_ITERATIONS, isScramMechanism, saltedPassword, scramHash, unary } from '@tributary/runtime';
import type { OnController } from './acl-admin';
import type { ResolvedClientOptions } from './config';
import type { ConnectionPool } from './connections';

export type { ScramMechanism } from '@tributary/runtime';

/** One mechanism's credential of a user (Kafka's ScramCredentialInfo). */
export interface ScramCredentialInfo {
  mechanism: ScramMechanism;
  iterations: number;
}

/** A user's SCRAM credentials (Kafka's UserScramCredentialsDescription). */
export interface UserScramCredentialsDescription {
  user: string;
  credentialInfos: ScramCredentialInfo[];
}

/** Creates or replaces a credential (Kafka's UserScramCredentialUpsertion). */
export interface UserScramCredentialUpsertion {
  type: 'upsertion';
  user: string;
  mechanism: ScramMechanism;
  /** PBKDF2 iterations, 4096..16384 (default 4096, Kafka's). */
  iterations?: number;
  /** The password; only its salted form is sent. */
  password: string;
  /** The salt (default: 32 random bytes). */
  salt?: Buffer;
}

/** Deletes a credential (Kafka's UserScramCredentialDeletion). */
export interface UserScramCredentialDeletion {
  type: 'deletion';
  user: string;
  mechanism: ScramMechanism;
}

export type UserScramCredentialAlteration = UserScramCredentialUpsertion | UserScramCredentialDeletion;

/** Some users' credentials could not be described or altered; `errors` maps each user to why (the other users succeeded). */
export class UserScramCredentialsError extends TributaryError {
  readonly errors: ReadonlyMap<string, TributaryError>;

  constructor(operation: string, errors: ReadonlyMap<string, TributaryError>) {
    const first = errors.values().next().value as TributaryError;
    const lines = [...errors].map(([user, e]) => `${user}: ${e.message}`);
    super(first.code, `${operation} failed for ${errors.size} user(s): ${lines.join('; ')}`, { cause: first, retriable: false });
    this.name = 'UserScramCredentialsError';
    this.errors = errors;
  }
}

type UserMethod = MethodsOfKind<UserAdminServiceClient, 'unary'>;

/** The wire upsertion: salt and SaltedPassword computed here (KIP-554), never the password. */
export function saltedUpsertion(u: UserScramCredentialUpsertion): ScramCredentialUpsertion {
  if (!isScramMechanism(u.mechanism)) {
    throw new TributaryError(ErrorCode.UNSUPPORTED_SASL_MECHANISM, `unsupported SCRAM mechanism '${String(u.mechanism)}': use SCRAM-SHA-256 or SCRAM-SHA-512`);
  }
  const iterations = u.iterations ?? SCRAM_DEFAULT_ITERATIONS;
  const salt = u.salt ?? randomBytes(32);
  // Out-of-range iterations are the controller's to refuse (UNACCEPTABLE_CREDENTIAL); no work is spent on them here.
  const inRange = Number.isInteger(iterations) && iterations >= 1 && iterations <= 16384;
  const salted = inRange ? saltedPassword(scramHash(u.mechanism), u.password, salt, iterations) : Buffer.alloc(0);
  return { name: u.user, mechanism: u.mechanism, iterations, salt, saltedPassword: salted };
}

export class UserAdmin {

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly onController: OnController,
    private readonly pool: ConnectionPool,
  ) {}

  /** The SCRAM credentials of `users` (default: every user that has one). Rejects with UserScramCredentialsError when a named user has none (RESOURCE_NOT_FOUND). */
  async describeUserScramCredentials(users: readonly string[] = []): Promise<UserScramCredentialsDescription[]> {
    const res = await this.call('describeUserScramCredentials', { users: [...users] });
    if (res.errorCode !== ErrorCode.NONE) throw new TributaryError(res.errorCode, `describeUserScramCredentials failed: ${res.errorMessage}`);
    const errors = new Map<string, TributaryError>();
    for (const r of res.results) {
      if (r.errorCode !== ErrorCode.NONE) errors.set(r.user, new TributaryError(r.errorCode, r.errorMessage || ErrorCode[r.errorCode] || `error ${r.errorCode}`));
    }
    if (errors.size > 0) throw new UserScramCredentialsError('describeUserScramCredentials', errors);
    return res.results.map((r) => ({ user: r.user, credentialInfos: r.credentialInfos.map((c) => ({ mechanism: c.mechanism as ScramMechanism, iterations: c.iterations })) }));
  }

  /** Creates, replaces and deletes credentials. Rejects with UserScramCredentialsError naming the users that were refused (each left unchanged); the others were altered. */
  async alterUserScramCredentials(alterations: readonly UserScramCredentialAlteration[]): Promise<void> {
    const deletions = alterations.filter((a): a is UserScramCredentialDeletion => a.type === 'deletion').map((d) => ({ name: d.user, mechanism: d.mechanism }));
    const upsertions = alterations.filter((a): a is UserScramCredentialUpsertion => a.type === 'upsertion').map(saltedUpsertion);
    const { results } = await this.call('alterUserScramCredentials', { deletions, upsertions });
    const errors = new Map<string, TributaryError>();
    for (const r of results) {
      if (r.errorCode !== ErrorCode.NONE) errors.set(r.user, new TributaryError(r.errorCode, r.errorMessage || ErrorCode[r.errorCode] || `error ${r.errorCode}`));
    }
    if (errors.size > 0) throw new UserScramCredentialsError('alterUserScramCredentials', errors);
  }


  private call<M extends UserMethod>(method: M, request: ClientRequest<UserAdminServiceClient, M>): Promise<ClientResponse<UserAdminServiceClient, M>> {
    return this.onController(method, (address) => {
      return unary(this.pool.service(UserAdminServiceClient, address), method, request, { deadlineMs: this.options.requestTimeoutMs });
    });
  }
}
