import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type CoordinatorDatabase } from './coordinator-database';
import { makeTempDir, TEST_MLP } from './persistence.testing';

const CONFIG = { aggregation: { name: 'reputation' }, temperature: 3 };

describe('SqliteReputationsRepository', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let db: CoordinatorDatabase;

  beforeEach(() => {
    temp = makeTempDir();
    db = openDatabase(temp.file('coordinator.sqlite'));
  });

  afterEach(() => {
    db.close();
    temp.remove();
  });

  const client = (name: string) => db.clients.upsertOnConnect({ name, architecture: TEST_MLP }).id;

  it('gives each client its reputation after its last round, and survives a restart', () => {
    const [honest, attacker, absent] = [client('honest'), client('attacker'), client('absent')];
    for (const number of [1, 2]) db.rounds.create({ number, config: CONFIG });
    db.reputations.record(1, [
      { clientId: honest, agreement: 0.8, reputation: 0.8, weight: 1, flagged: false },
      { clientId: attacker, agreement: 0.3, reputation: 0.3, weight: 0, flagged: true },
      { clientId: absent, agreement: 0.7, reputation: 0.7, weight: 1, flagged: false },
    ]);
    db.reputations.record(2, [
      { clientId: honest, agreement: 0.9, reputation: 0.85, weight: 1, flagged: false },
      { clientId: attacker, agreement: 0.1, reputation: 0.2, weight: 0, flagged: true },
    ]);
    db.close();
    db = openDatabase(temp.file('coordinator.sqlite'));
    expect(db.reputations.latest()).toEqual(new Map([[honest, 0.85], [attacker, 0.2], [absent, 0.7]]));
    expect(db.reputations.historyByClient().get(attacker)).toEqual([
      { clientId: attacker, round: 1, agreement: 0.3, reputation: 0.3, weight: 0, flagged: true },
      { clientId: attacker, round: 2, agreement: 0.1, reputation: 0.2, weight: 0, flagged: true },
    ]);
  });

  it('refuses a round recorded twice and stores none of the second attempt', () => {
    const id = client('a');
    db.rounds.create({ number: 1, config: CONFIG });
    const entry = { clientId: id, agreement: 0.5, reputation: 0.5, weight: 1, flagged: false };
    db.reputations.record(1, [entry]);
    expect(() => db.reputations.record(1, [entry])).toThrow(/UNIQUE constraint failed/);
    expect(db.reputations.historyByClient().get(id)).toHaveLength(1);
  });

  it('refuses evidence for an unknown client or round', () => {
    const id = client('a');
    expect(() => db.reputations.record(9, [{ clientId: id, agreement: 0.5, reputation: 0.5, weight: 1, flagged: false }])).toThrow(/FOREIGN KEY/);
  });
});
