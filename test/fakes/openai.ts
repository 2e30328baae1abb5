/**
 * A fake OpenAI-compatible chat completions endpoint on 127.0.0.1. It records requests and
 * answers with realistic chat.completion JSON (with usage), following a sequence of
 * behaviours: a valid review derived from the prompt, not JSON, a schema mismatch, a
 * refusal, a cut-off answer, a 429, a 500, or a custom answer.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type OpenAIBehaviour =
  | 'valid'
  | 'not-json'
  | 'schema-mismatch'
  | 'refusal'
  | 'truncated'
  | 'extra-deal-breaker'
  | 'no-usage'
  | 'server-error'
  | { rateLimited: true; retryAfter?: string; retryAfterMs?: string }
  | { custom: (body: ChatRequest) => { status: number; body: unknown; headers?: Record<string, string> } };

export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  response_format?: { type: string; json_schema?: { name: string; strict?: boolean; schema: unknown } };
  [key: string]: unknown;
}

interface LoggedChat {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: ChatRequest;
}

export interface FakeOpenAI {
  /** Base URL to hand to the client (ends in /v1). */
  url: string;
  requests: LoggedChat[];
  /** Replace the remaining behaviours. */
  setBehaviours(list: OpenAIBehaviour[]): void;
  /** Hold every answer this many ms before sending it (0: answer at once). */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

export interface FakeOpenAIOptions {
  /** Behaviours in order; when used up, the last one repeats (default 'valid'). */
  behaviours?: OpenAIBehaviour[];
  /** When set, requests without `authorization: Bearer <apiKey>` get 401. */
  apiKey?: string;
}

function allText(body: ChatRequest): string {
  return body.messages.map((m) => m.content).join('\n');
}

/** Build a valid review from what the prompt says: login, top project names, deal-breaker ids. */
export function reviewFromPrompt(body: ChatRequest, extraIds: string[] = []) {
  const text = allText(body);
  const login = /^Login: (.+)$/m.exec(text)?.[1] ?? 'someone';
  const projects = (/^Top projects \(names\): (.*)$/m.exec(text)?.[1] ?? '')
    .split(', ')
    .filter((n) => n && n !== '(none)');
  const ids = [...text.matchAll(/deal breaker id: (\w+)/g)].map((m) => m[1]!);
  return {
    summary: `${login} has a profile with visible work (fake model).`,
    firstImpression: `First impression of ${login}.`,
    dealBreakers: [...ids, ...extraIds].map((id) => ({ id, explanation: `Model wording for ${id}.` })),
    topProjects: projects.map((name) => ({ name, analysis: `Model analysis of ${name}.` })),
    strengths: ['Ships real projects'],
    improvementChecklist: [{ item: 'Write more tests', why: 'Confidence for reviewers' }],
    recruiterPerspective: 'Would read on.',
  };
}

function completion(body: ChatRequest, content: string | null, opts: { finish?: string; refusal?: string; usage?: boolean } = {}) {
  const prompt = Math.ceil(allText(body).length / 4);
  const done = Math.ceil((content ?? opts.refusal ?? '').length / 4);
  return {
    id: `chatcmpl-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: opts.refusal ?? null, annotations: [] },
        logprobs: null,
        finish_reason: opts.finish ?? 'stop',
      },
    ],
    ...(opts.usage === false ? {} : { usage: { prompt_tokens: prompt, completion_tokens: done, total_tokens: prompt + done } }),
    system_fingerprint: 'fp_fake',
  };
}

/** Answer one request according to a behaviour; return [status, body, headers]. */
function answer(b: OpenAIBehaviour, body: ChatRequest): [number, unknown, Record<string, string>] {
  if (typeof b === 'object' && 'custom' in b) {
    const r = b.custom(body);
    return [r.status, r.body, r.headers ?? {}];
  }
  if (typeof b === 'object') {
    const headers: Record<string, string> = {};
    if (b.retryAfter !== undefined) headers['retry-after'] = b.retryAfter;
    if (b.retryAfterMs !== undefined) headers['retry-after-ms'] = b.retryAfterMs;
    return [429, { error: { message: 'Rate limit reached for gpt-4o-mini', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, headers];
  }
  const valid = JSON.stringify(reviewFromPrompt(body));
  switch (b) {
    case 'valid':
      return [200, completion(body, valid), {}];
    case 'no-usage':
      return [200, completion(body, valid, { usage: false }), {}];
    case 'extra-deal-breaker':
      return [200, completion(body, JSON.stringify(reviewFromPrompt(body, ['is_a_genius', 'no_profile_readme']))), {}];
    case 'not-json':
      return [200, completion(body, 'Sure! Here is the review: the profile is great.'), {}];
    case 'schema-mismatch':
      return [200, completion(body, JSON.stringify({ summary: 'only a summary', score: 100 })), {}];
    case 'refusal':
      return [200, completion(body, null, { refusal: "I'm sorry, I can't help with that." }), {}];
    case 'truncated':
      return [200, completion(body, valid.slice(0, 40), { finish: 'length' }), {}];
    case 'server-error':
      return [500, { error: { message: 'The server had an error while processing your request.', type: 'server_error' } }, {}];
  }
}

/** Start the fake on 127.0.0.1 with a free port. */
export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let behaviours = [...(opts.behaviours ?? ['valid'])];
  let latencyMs = 0;
  const requests: LoggedChat[] = [];

  function next(): OpenAIBehaviour {
    return behaviours.length > 1 ? behaviours.shift()! : (behaviours[0] ?? 'valid');
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const path = req.url ?? '/';
    const send = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${randomUUID()}`, ...extra });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || !/^(\/v1)?\/chat\/completions$/.test(path)) {
      return send(404, { error: { message: `Unknown request URL: ${req.method} ${path}`, type: 'invalid_request_error' } });
    }
    const body = JSON.parse(raw) as ChatRequest;
    requests.push({ method: req.method, path, headers, body });
    if (opts.apiKey && headers.authorization !== `Bearer ${opts.apiKey}`) {
      return send(401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    const [status, data, extra] = answer(next(), body);
    if (latencyMs > 0) setTimeout(() => send(status, data, extra), latencyMs);
    else send(status, data, extra);
  }

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => handle(req, res, raw));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/v1`,
    requests,
    setBehaviours: (list) => void (behaviours = [...list]),
    setLatency: (ms) => void (latencyMs = ms),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
