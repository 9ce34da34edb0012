/**
 * The controller's UserAdminService (proto/tributary/v1/users.proto): Kafka's
 * DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554) over the SCRAM
 * credentials in the coordination store (`/config/users/<user>`, libs/runtime
 * security/store.ts), where every service's authenticator reads them.
 *
 * The client sends SaltedPassword, never the password; this derives StoredKey and ServerKey
 * and stores only those (with salt and iterations). Validation follows Kafka's
 * ZkAdminManager.alterUserScramCredentials: per user, an unknown mechanism is
 * UNSUPPORTED_SASL_MECHANISM, an empty name or iterations outside 4096..16384 (or a salt or
 * salted password of the wrong size) UNACCEPTABLE_CREDENTIAL, the same user and mechanism
 * twice DUPLICATE_RESOURCE, deleting a missing credential RESOURCE_NOT_FOUND; a user with any
 * such error is left unchanged.
 *
 * Only the active controller answers; others throw NOT_CONTROLLER, as the AclService does.
 */
import type {
  AlterUserScramCredentialsResult,
  DescribeUserScramCredentialsResult,
  ScramCredentialDeletion,
  ScramCredentialUpsertion,
  UserAdminServiceService,
} from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { Logger, ScramCredential, ScramMechanism, SecurityStore, ServiceHandlers } from '@tributary/runtime';
import { activeControllerGuard } from './active-only';
import {
  SCRAM_MAX_ITERATIONS,
  SCRAM_MIN_ITERATIONS,
  SCRAM_MECHANISMS,
  clientKey,
  deleteScramCredential,
  getScramCredential,
  isScramMechanism,
  listScramUsers,
  putScramCredential,
  scramHash,
  serverKey,
  storedKey,
} from '@tributary/runtime';

export interface UserAdminHandlersOptions {
  store: SecurityStore;
  /** This controller's id, for NOT_CONTROLLER messages. */
  nodeId: number;
  /** Whether this controller is the active one. */
  isActive(): boolean;
  logger: Logger;
}

type Alteration = { kind: 'delete'; d: ScramCredentialDeletion } | { kind: 'upsert'; u: ScramCredentialUpsertion };

class CredentialError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const HASH_BYTES: Record<ScramMechanism, number> = { 'SCRAM-SHA-256': 32, 'SCRAM-SHA-512': 64 };

function mechanismOf(name: string, user: string): ScramMechanism {
  if (!isScramMechanism(name)) {
    throw new CredentialError(ErrorCode.UNSUPPORTED_SASL_MECHANISM, `user '${user}': unsupported SCRAM mechanism '${name}': use ${SCRAM_MECHANISMS.join(' or ')}`);
  }
  return name;
}

/** The stored credential for an upsertion (StoredKey and ServerKey from the salted password); throws CredentialError. */
function credentialOf(u: ScramCredentialUpsertion, mechanism: ScramMechanism): ScramCredential {
  if (!Number.isInteger(u.iterations) || u.iterations < SCRAM_MIN_ITERATIONS || u.iterations > SCRAM_MAX_ITERATIONS) {
    throw new CredentialError(ErrorCode.UNACCEPTABLE_CREDENTIAL, `user '${u.name}': iterations must be from ${SCRAM_MIN_ITERATIONS} to ${SCRAM_MAX_ITERATIONS}, got ${u.iterations}`);
  }
  if (u.salt.length === 0) throw new CredentialError(ErrorCode.UNACCEPTABLE_CREDENTIAL, `user '${u.name}': the salt is empty`);
  if (u.saltedPassword.length !== HASH_BYTES[mechanism]) {
    throw new CredentialError(
      ErrorCode.UNACCEPTABLE_CREDENTIAL,
      `user '${u.name}': a ${mechanism} salted password is ${HASH_BYTES[mechanism]} bytes, got ${u.saltedPassword.length}`,
    );
  }
  const hash = scramHash(mechanism);
  const salted = Buffer.from(u.saltedPassword);
  return { salt: Buffer.from(u.salt), iterations: u.iterations, storedKey: storedKey(hash, clientKey(hash, salted)), serverKey: serverKey(hash, salted) };
}

export function userAdminHandlers(options: UserAdminHandlersOptions): ServiceHandlers<typeof UserAdminServiceService> {
  const { store, logger } = options;
  const requireActive = activeControllerGuard(options);

  const describeUser = async (user: string): Promise<DescribeUserScramCredentialsResult> => {
    const credentialInfos = [];
    for (const mechanism of SCRAM_MECHANISMS) {
      const c = await getScramCredential(store, user, mechanism);
      if (c) credentialInfos.push({ mechanism, iterations: c.iterations });
    }
    if (credentialInfos.length === 0) {
      return { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: `user '${user}' has no SCRAM credential: create one with 'tributary users create ${user}'`, credentialInfos };
    }
    return { user, errorCode: ErrorCode.NONE, errorMessage: '', credentialInfos };
  };

  return {
    describeUserScramCredentials: async (request) => {
      requireActive();
      if (request.users.length === 0) {
        const users = (await listScramUsers(store)).map((u) => u.user).sort();
        const results: DescribeUserScramCredentialsResult[] = [];
        for (const user of users) {
          const r = await describeUser(user);
          // A user whose credentials vanished between the listing and the read is not listed.
          if (r.errorCode === ErrorCode.NONE) results.push(r);
        }
        return { errorCode: ErrorCode.NONE, errorMessage: '', results };
      }
      const counts = new Map<string, number>();
      for (const u of request.users) counts.set(u, (counts.get(u) ?? 0) + 1);
      const results: DescribeUserScramCredentialsResult[] = [];
      for (const user of new Set(request.users)) {
        if ((counts.get(user) ?? 0) > 1) {
          results.push({ user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: `user '${user}' is named more than once: name each user once`, credentialInfos: [] });
        } else if (user === '') {
          results.push({ user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'the user name is empty', credentialInfos: [] });
        } else {
          results.push(await describeUser(user));
        }
      }
      return { errorCode: ErrorCode.NONE, errorMessage: '', results };
    },

    alterUserScramCredentials: async (request, ctx) => {
      requireActive();
      const byUser = new Map<string, Alteration[]>();
      const add = (user: string, a: Alteration): void => {
        const list = byUser.get(user) ?? [];
        list.push(a);
        byUser.set(user, list);
      };
      for (const d of request.deletions) add(d.name, { kind: 'delete', d });
      for (const u of request.upsertions) add(u.name, { kind: 'upsert', u });

      const results: AlterUserScramCredentialsResult[] = [];
      for (const [user, alterations] of byUser) {
        try {
          if (user === '') throw new CredentialError(ErrorCode.UNACCEPTABLE_CREDENTIAL, 'the user name is empty: give every credential a user name');
          const seen = new Set<string>();
          const deletes: ScramMechanism[] = [];
          const upserts: Array<[ScramMechanism, ScramCredential]> = [];
          for (const a of alterations) {
            const mechanismName = a.kind === 'delete' ? a.d.mechanism : a.u.mechanism;
            const mechanism = mechanismOf(mechanismName, user);
            if (seen.has(mechanism)) {
              throw new CredentialError(ErrorCode.DUPLICATE_RESOURCE, `user '${user}': the ${mechanism} credential is altered more than once in the request: alter it once`);
            }
            seen.add(mechanism);
            if (a.kind === 'delete') deletes.push(mechanism);
            else upserts.push([mechanism, credentialOf(a.u, mechanism)]);
          }
          for (const mechanism of deletes) {
            if (!(await getScramCredential(store, user, mechanism))) {
              throw new CredentialError(ErrorCode.RESOURCE_NOT_FOUND, `user '${user}' has no ${mechanism} credential to delete`);
            }
          }
          for (const mechanism of deletes) await deleteScramCredential(store, user, mechanism);
          for (const [mechanism, credential] of upserts) await putScramCredential(store, user, mechanism, credential);
          logger.info({ principal: ctx.principal, user, deleted: deletes, upserted: upserts.map(([m]) => m) }, 'SCRAM credentials altered');
          results.push({ user, errorCode: ErrorCode.NONE, errorMessage: '' });
        } catch (e) {
          if (!(e instanceof CredentialError)) throw e;
          results.push({ user, errorCode: e.code, errorMessage: e.message });
        }
      }
      return { results };
    },
  };
}
