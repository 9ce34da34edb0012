/**
 * HTTP Basic credentials (RFC 7617) from an `Authorization` header, parsed without trusting
 * anything: any malformed header (another scheme, bad base64, no colon, an empty user name,
 * control characters, invalid UTF-8, over {@link MAX_AUTHORIZATION_LENGTH}) is a reason to
 * answer 401, never an exception. The password is returned to be checked against the
 * cluster and is never logged (nor is the header: see the access log in app.ts).
 */

/** Longest `Authorization` header looked at (a SCRAM user name and password fit many times over). */
export const MAX_AUTHORIZATION_LENGTH = 4096;

/** The user name and password of a Basic header. */
export interface BasicCredentials {
  username: string;
  password: string;
}

/** Why a header is not usable Basic credentials (safe to show: it never contains the header). */
export type BasicAuthProblem = 'missing' | 'not-basic' | 'too-long' | 'bad-base64' | 'bad-utf8' | 'no-colon' | 'empty-user' | 'bad-characters';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** C0 controls and DEL: never part of a user name or password a client means to send. */
const CONTROL = /[\u0000-\u001f\u007f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses `header` (the raw `Authorization` value, or undefined when absent). */
export function parseBasicAuthorization(header: string | string[] | undefined): BasicCredentials | { problem: BasicAuthProblem } {
  if (header === undefined || header === '') return { problem: 'missing' };
  // A repeated header is ambiguous: refuse rather than pick one.
  if (typeof header !== 'string') return { problem: 'not-basic' };
  if (header.length > MAX_AUTHORIZATION_LENGTH) return { problem: 'too-long' };
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'basic') return { problem: 'not-basic' };
  const encoded = header.slice(space + 1).trim();
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return { problem: 'bad-base64' };
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return { problem: 'bad-utf8' };
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return { problem: 'no-colon' };
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (username === '') return { problem: 'empty-user' };
  if (CONTROL.test(username) || CONTROL.test(password)) return { problem: 'bad-characters' };
  return { username, password };
}

/** What the 401 says for each problem (tells the client what to send). */
export function basicAuthProblemMessage(problem: BasicAuthProblem): string {
  switch (problem) {
    case 'missing':
      return 'Authentication required: send HTTP Basic credentials (Authorization: Basic base64(user:password)) of a SCRAM user of the cluster';
    case 'not-basic':
      return 'Authentication failed: only one Authorization header with the Basic scheme is accepted';
    case 'too-long':
      return `Authentication failed: the Authorization header is over ${MAX_AUTHORIZATION_LENGTH} characters`;
    case 'bad-base64':
      return 'Authentication failed: the Basic credentials are not valid base64';
    case 'bad-utf8':
      return 'Authentication failed: the Basic credentials are not valid UTF-8';
    case 'no-colon':
      return 'Authentication failed: the Basic credentials must be user:password';
    case 'empty-user':
      return 'Authentication failed: the user name is empty';
    case 'bad-characters':
      return 'Authentication failed: the user name or password contains control characters';
  }
}
