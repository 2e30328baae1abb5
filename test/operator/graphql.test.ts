import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectProfile, SqliteHttpCache } from '../../src/analysis/github.js';
import { scoreProfile } from '../../src/analysis/score.js';
import { startFakeGitHub, strongDev, type FakeGitHub } from '../fakes/github.js';
import { NOW, openTempDb, type TempDb } from '../analysis/helpers.js';

const TOKEN = 'ghp_SuperSecretTokenValue1234567890abcd';
let gh: FakeGitHub;
let t: TempDb;

beforeEach(async () => {
  gh = await startFakeGitHub({ now: NOW, users: [strongDev(NOW)] });
  t = openTempDb();
});
afterEach(async () => {
  await gh.close();
  t.close();
});

describe('a GraphQL answer that carries errors', () => {
  it('is reported as "GitHub GraphQL failed: <message>" in the signals, not "needs a token"', async () => {
    gh.fault('/graphql', [{ status: 200, body: { data: null, errors: [{ type: 'INTERNAL', message: 'Something went wrong while executing your query.' }] } }]);
    const snap = await collectProfile('adadev', { baseUrl: gh.url, cache: new SqliteHttpCache(t.db), now: () => NOW, token: TOKEN });
    expect(snap.graphql).toBeNull();
    const card = scoreProfile(snap, NOW);
    const evidence = card.signals.filter((s) => ['profile.pinned', 'consistency.weeks', 'community.orgs'].includes(s.id)).map((s) => s.evidence);
    expect(evidence).toHaveLength(3);
    for (const e of evidence) {
      expect(e).toBe('GitHub GraphQL failed: Something went wrong while executing your query.');
      expect(e).not.toMatch(/token/);
    }
  });
});
