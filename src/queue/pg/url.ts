import { ValidationError } from '../errors.js';

/**
 * A PostgreSQL database named by a URL: `postgres://user[:password]@host[:port]/db[?schema=NAME]`
 * (also `postgresql://`). Parsing it loads nothing: the driver is imported only when a
 * connection is opened (./connect.ts), so SQLite users never load `pg`.
 */
export interface PgTarget {
  /** The connection string handed to `pg`, without the `schema` parameter. */
  connectionString: string;
  /** The schema holding gitroast's tables. Default `public`. */
  schema: string;
  /** The URL with its password replaced by `***`, for messages and logs. */
  display: string;
}

/** The schema used when the URL names none. */
const DEFAULT_PG_SCHEMA = 'public';

/** Schema names gitroast accepts: a plain lower-case identifier, so it is never quoted wrongly. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Tell whether `value` names a PostgreSQL database (postgres:// or postgresql://) rather than a SQLite file. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value.trim());
}

/** Replace the password of a postgres URL by `***` (for any message that shows the URL). */
function redactPgUrl(value: string): string {
  return value.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/**
 * Parse a postgres URL. Throws a ValidationError (exit 2) naming the bad value and what is
 * allowed: not a URL, no host, no database, a bad schema name, or an unknown parameter's
 * misuse. `what` names where the value came from (`--db`, `GITROAST_DB`, `--to`).
 */
export function parsePgUrl(value: string, what = '--db'): PgTarget {
  const display = redactPgUrl(value);
  const bad = (why: string) => new ValidationError(`invalid ${what} ${JSON.stringify(display)}: ${why}; expected postgres://user[:password]@host[:port]/database[?schema=NAME]`);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw bad(`the scheme is ${url.protocol.replace(/:$/, '')}`);
  const host = url.hostname || url.searchParams.get('host');
  if (!host) throw bad('it names no host');
  if (url.port !== '' && !(Number(url.port) >= 1 && Number(url.port) <= 65535)) throw bad(`port ${url.port} is out of range`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw bad('it names no database (the path after the host)');
  const schemas = url.searchParams.getAll('schema');
  if (schemas.length > 1) throw bad('it gives schema more than once');
  const schema = schemas[0] ?? DEFAULT_PG_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) throw bad(`schema ${JSON.stringify(schema)} is not a lower-case name of letters, digits and _ (at most 63)`);
  url.searchParams.delete('schema');
  return { connectionString: url.toString(), schema, display };
}
