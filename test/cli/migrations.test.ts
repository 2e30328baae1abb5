import { describe, expect, it } from 'vitest';
import { analysisMigrations } from '../../src/analysis/migrations.js';
import { APP_MIGRATIONS, openAppDb } from '../../src/cli/db.js';
import { queueMigrations, schemaVersion } from '../../src/queue/index.js';
import { tempDbPath } from '../support/tmp.js';

describe('the application migration list', () => {
  it('holds every migration of every room exactly once', () => {
    const rooms = [...queueMigrations, ...analysisMigrations];
    expect(APP_MIGRATIONS).toHaveLength(rooms.length);
    for (const m of rooms) expect(APP_MIGRATIONS.filter((x) => x === m)).toHaveLength(1);
  });

  it('keeps each room\'s own migrations in their order', () => {
    for (const list of [queueMigrations, analysisMigrations]) {
      const positions = list.map((m) => APP_MIGRATIONS.indexOf(m));
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    }
  });

  it('migrates a fresh database to the last version, and reopening applies nothing twice', () => {
    const file = tempDbPath();
    openAppDb(file).close();
    const db = openAppDb(file);
    expect(schemaVersion(db)).toBe(APP_MIGRATIONS.length);
    db.close();
  });
});
