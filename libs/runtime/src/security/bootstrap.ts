/**
 * SCRAM credentials created when the coordination service starts (`--scram-credentials-file`),
 * Kafka's `kafka-storage format --add-scram 'SCRAM-SHA-256=[name=…,salt=…,saltedpassword=…]'`:
 * how the first users of a cluster whose services log in with SCRAM (no certificates) come
 * to exist, since nobody can authenticate to create them through the API before.
 *
 * The file holds salted credentials only, never a password — one per line, as printed by
 * `tributary users hash`:
 *
 *   # user  mechanism      credential (Kafka's stored form)
 *   broker  SCRAM-SHA-512  salt=…,stored_key=…,server_key=…,iterations=4096
 *
 * A credential is written only when the user has none for that mechanism: later changes made
 * through the API (password rotation, deletion and re-creation) are not undone by a restart.
 */
import type { Logger } from '../logger';
import { SCRAM_MIN_ITERATIONS, formatScramCredential, isScramMechanism, parseScramCredential, type ScramCredential, type ScramMechanism } from './scram';
import { getScramCredential, putScramCredential, type SecurityStore } from './store';

/** One line of the file. */
export interface BootstrapCredential {
  user: string;
  mechanism: ScramMechanism;
  credential: ScramCredential;
}

/** The line `tributary users hash` prints for a credential. */
export function formatBootstrapCredential(entry: BootstrapCredential): string {
  return `${entry.user} ${entry.mechanism} ${formatScramCredential(entry.credential)}`;
}

/** Parses the file; throws an Error naming the line for anything malformed. */
export function parseBootstrapCredentials(text: string): BootstrapCredential[] {
  const entries: BootstrapCredential[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const where = `line ${i + 1}`;
    if (fields.length !== 3) throw new Error(`${where}: expected "<user> <mechanism> salt=…,stored_key=…,server_key=…,iterations=…" (from 'tributary users hash'), got ${fields.length} field(s)`);
    const [user, mechanism, credential] = fields as [string, string, string];
    if (!isScramMechanism(mechanism)) throw new Error(`${where}: unknown mechanism '${mechanism}' (SCRAM-SHA-256 or SCRAM-SHA-512)`);
    let parsed: ScramCredential;
    try {
      parsed = parseScramCredential(credential);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message} (a password is not accepted here: use 'tributary users hash')`, { cause: e });
    }
    if (parsed.iterations < SCRAM_MIN_ITERATIONS) throw new Error(`${where}: iterations below ${SCRAM_MIN_ITERATIONS}`);
    entries.push({ user, mechanism, credential: parsed });
  });
  return entries;
}

/** Writes each credential its user does not have yet; returns the ones written. */
export async function applyBootstrapCredentials(store: SecurityStore, entries: readonly BootstrapCredential[], logger: Logger): Promise<BootstrapCredential[]> {
  const written: BootstrapCredential[] = [];
  for (const entry of entries) {
    if ((await getScramCredential(store, entry.user, entry.mechanism)) !== undefined) continue;
    await putScramCredential(store, entry.user, entry.mechanism, entry.credential);
    written.push(entry);
    logger.info({ user: entry.user, mechanism: entry.mechanism }, 'SCRAM credential created from --scram-credentials-file');
  }
  return written;
}
