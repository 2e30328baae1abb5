/**
 * A small GraphQL engine for the fake GitHub: parses a query (fields, aliases, arguments,
 * variables, inline fragments), resolves it against plain objects, answers an unknown field
 * with GitHub's own error text, and prices it the way GitHub documents its rate limit:
 * every connection costs one request times the `first`/`last` of the connections it sits
 * in; the sum divided by 100, rounded, at least 1.
 */

type Value = string | number | boolean | null | Value[] | { [k: string]: Value } | { $var: string };

export interface Selection {
  /** The name the answer uses (the alias, else the field name). */
  key: string;
  name: string;
  args: Record<string, Value>;
  selections?: Selection[];
  /** Set on an inline fragment (`... on Type`): its selections apply to that type only. */
  on?: string;
}

/** A resolved object: its type name and its fields, plain or computed from arguments. */
export interface GqlObject {
  __typename: string;
  [field: string]: unknown;
}

type Resolver = (args: Record<string, unknown>) => unknown;

/**
 * The connection field names of GitHub's schema the fake knows; a field of one of these
 * names is priced as a connection.
 */
const CONNECTIONS = new Set([
  'repositories', 'pinnedItems', 'pullRequests', 'issues', 'organizations', 'socialAccounts', 'repositoriesContributedTo',
  'followers', 'following', 'repositoryTopics', 'languages', 'stargazers', 'watchers', 'releases',
]);

class Lexer {
  private i = 0;
  constructor(private readonly s: string) {}

  private skip(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) return;
      if (c === '#') {
        while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++;
      } else if (/[\s,]/.test(c)) this.i++;
      else return;
    }
  }

  peek(): string {
    this.skip();
    const rest = this.s.slice(this.i);
    if (rest.startsWith('...')) return '...';
    const c = rest[0];
    if (c === undefined) return '';
    if (/[{}():[\]!=@$]/.test(c)) return c;
    if (c === '"') return '"';
    const m = /^-?[A-Za-z0-9_.]+/.exec(rest);
    if (!m) throw new Error(`unexpected character ${JSON.stringify(c)}`);
    return m[0];
  }

  next(): string {
    const t = this.peek();
    if (t === '"') {
      let j = this.i + 1;
      let out = '';
      while (j < this.s.length && this.s[j] !== '"') {
        if (this.s[j] === '\\') {
          out += JSON.parse(`"${this.s.slice(j, j + 2)}"`) as string;
          j += 2;
        } else out += this.s[j++];
      }
      this.i = j + 1;
      return JSON.stringify(out);
    }
    this.i += t.length;
    return t;
  }

  expect(t: string): void {
    const got = this.next();
    if (got !== t) throw new Error(`expected ${t}, got ${JSON.stringify(got)}`);
  }
}

function parseValue(lx: Lexer): Value {
  const t = lx.next();
  if (t === '$') return { $var: lx.next() };
  if (t.startsWith('"')) return JSON.parse(t) as string;
  if (t === '[') {
    const out: Value[] = [];
    while (lx.peek() !== ']') out.push(parseValue(lx));
    lx.next();
    return out;
  }
  if (t === '{') {
    const out: Record<string, Value> = {};
    while (lx.peek() !== '}') {
      const k = lx.next();
      lx.expect(':');
      out[k] = parseValue(lx);
    }
    lx.next();
    return out;
  }
  if (t === 'true' || t === 'false') return t === 'true';
  if (t === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return t; // an enum value
}

function parseSelections(lx: Lexer): Selection[] {
  lx.expect('{');
  const out: Selection[] = [];
  while (lx.peek() !== '}') {
    if (lx.peek() === '...') {
      lx.next();
      lx.expect('on');
      const on = lx.next();
      out.push({ key: '', name: '', args: {}, on, selections: parseSelections(lx) });
      continue;
    }
    let name = lx.next();
    const key = name;
    if (lx.peek() === ':') {
      lx.next();
      name = lx.next();
    }
    const args: Record<string, Value> = {};
    if (lx.peek() === '(') {
      lx.next();
      while (lx.peek() !== ')') {
        const k = lx.next();
        lx.expect(':');
        args[k] = parseValue(lx);
      }
      lx.next();
    }
    const sel: Selection = { key, name, args };
    if (lx.peek() === '{') sel.selections = parseSelections(lx);
    out.push(sel);
  }
  lx.next();
  return out;
}

/** Parse a query document (one operation, variable definitions skipped) to its selections. */
export function parseQuery(query: string): Selection[] {
  const lx = new Lexer(query);
  if (lx.peek() === 'query') {
    lx.next();
    if (lx.peek() !== '(' && lx.peek() !== '{') lx.next(); // the operation name
    if (lx.peek() === '(') {
      let depth = 0;
      do {
        const t = lx.next();
        if (t === '(') depth++;
        if (t === ')') depth--;
      } while (depth > 0);
    }
  }
  return parseSelections(lx);
}

function argValue(v: Value, vars: Record<string, unknown>): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && '$var' in v) return vars[(v as { $var: string }).$var];
  if (Array.isArray(v)) return v.map((x) => argValue(x, vars));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, argValue(x as Value, vars)]));
  return v;
}

/** Price a query as GitHub does: connection requests (times enclosing page sizes) / 100, rounded, at least 1. */
export function queryCost(selections: Selection[], vars: Record<string, unknown>): number {
  let requests = 0;
  const walk = (sels: Selection[], multiplier: number) => {
    for (const s of sels) {
      let m = multiplier;
      if (s.name && CONNECTIONS.has(s.name)) {
        requests += multiplier;
        const size = Number(argValue(s.args.first ?? s.args.last ?? 1, vars)) || 1;
        m = multiplier * size;
      }
      if (s.selections) walk(s.selections, m);
    }
  };
  walk(selections, 1);
  return Math.max(1, Math.round(requests / 100));
}

export class GqlError extends Error {
  constructor(message: string, readonly path: string[], readonly type?: string) {
    super(message);
  }
}

/** Resolve `selections` on `obj`; unknown fields throw a GqlError with GitHub's wording. */
export function resolve(obj: unknown, selections: Selection[], vars: Record<string, unknown>, path: string[] = []): unknown {
  if (obj === null || obj === undefined) return null;
  if (Array.isArray(obj)) return obj.map((o, i) => resolve(o, selections, vars, [...path, String(i)]));
  const o = obj as GqlObject;
  const out: Record<string, unknown> = {};
  for (const s of selections) {
    if (s.on !== undefined) {
      const types = (o.__implements as string[] | undefined) ?? [];
      if (s.on === o.__typename || types.includes(s.on)) Object.assign(out, resolve(o, s.selections!, vars, path));
      continue;
    }
    if (s.name === '__typename') {
      out[s.key] = o.__typename;
      continue;
    }
    if (!(s.name in o)) throw new GqlError(`Field '${s.name}' doesn't exist on type '${o.__typename}'`, [...path, s.key]);
    const field = o[s.name];
    const args = Object.fromEntries(Object.entries(s.args).map(([k, v]) => [k, argValue(v, vars)]));
    const value = typeof field === 'function' ? (field as Resolver)(args) : field;
    out[s.key] = s.selections ? resolve(value, s.selections, vars, [...path, s.key]) : value;
  }
  return out;
}

/** Build a connection object over `items` (the page `first`/`after` asks for, totalCount of all). */
export function connection(items: readonly unknown[], args: Record<string, unknown>): GqlObject {
  const start = typeof args.after === 'string' ? Number(Buffer.from(args.after, 'base64').toString('utf8').replace('cursor:', '')) : 0;
  const first = typeof args.first === 'number' ? args.first : items.length;
  const page = items.slice(start, start + first);
  const end = start + page.length;
  return {
    __typename: 'Connection',
    totalCount: items.length,
    nodes: page,
    edges: page.map((node, i) => ({ __typename: 'Edge', node, cursor: Buffer.from(`cursor:${start + i + 1}`).toString('base64') })),
    pageInfo: {
      __typename: 'PageInfo',
      hasNextPage: end < items.length,
      endCursor: page.length ? Buffer.from(`cursor:${end}`).toString('base64') : null,
    },
  };
}
