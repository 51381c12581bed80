import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS, TEST_MLP, useTestDatabase } from './persistence.testing';

const CONFIG = { aggregation: { name: 'reputation' }, temperature: 3 };

describe.each(DATABASE_KINDS)('SqlReputationsRepository on %s', (kind) => {
  const t = useTestDatabase(kind);

  const client = async (name: string) => (await t.db.clients.upsertOnConnect({ name, architecture: TEST_MLP })).id;
  const uniqueViolation = kind === 'sqlite' ? /UNIQUE constraint failed/ : /duplicate key value violates unique constraint/;
  const foreignKeyViolation = kind === 'sqlite' ? /FOREIGN KEY/ : /violates foreign key constraint/;

  it('gives each client its reputation after its last round, and survives a restart', async () => {
    const [honest, attacker, absent] = [await client('honest'), await client('attacker'), await client('absent')];
    for (const number of [1, 2]) await t.db.rounds.create({ number, config: CONFIG });
    await t.db.reputations.record(1, [
      { clientId: honest, agreement: 0.8, reputation: 0.8, weight: 1, flagged: false },
      { clientId: attacker, agreement: 0.3, reputation: 0.3, weight: 0, flagged: true },
      { clientId: absent, agreement: 0.7, reputation: 0.7, weight: 1, flagged: false },
    ]);
    await t.db.reputations.record(2, [
      { clientId: honest, agreement: 0.9, reputation: 0.85, weight: 1, flagged: false },
      { clientId: attacker, agreement: 0.1, reputation: 0.2, weight: 0, flagged: true },
    ]);
    await t.reopen();
    expect(await t.db.reputations.latest()).toEqual(new Map([[honest, 0.85], [attacker, 0.2], [absent, 0.7]]));
    expect((await t.db.reputations.historyByClient()).get(attacker)).toEqual([
      { clientId: attacker, round: 1, agreement: 0.3, reputation: 0.3, weight: 0, flagged: true },
      { clientId: attacker, round: 2, agreement: 0.1, reputation: 0.2, weight: 0, flagged: true },
    ]);
  });

  it('refuses a round recorded twice and stores none of the second attempt', async () => {
    const id = await client('a');
    const other = await client('b');
    await t.db.rounds.create({ number: 1, config: CONFIG });
    const entry = { clientId: id, agreement: 0.5, reputation: 0.5, weight: 1, flagged: false };
    await t.db.reputations.record(1, [entry]);
    const again = t.db.reputations.record(1, [{ ...entry, clientId: other }, entry]);
    await expect(again).rejects.toThrow(uniqueViolation);
    await expect(again).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect((await t.db.reputations.historyByClient()).get(id)).toHaveLength(1);
    expect((await t.db.reputations.historyByClient()).get(other)).toBeUndefined();
  });

  it('refuses evidence for an unknown client or round', async () => {
    const id = await client('a');
    const unknownRound = t.db.reputations.record(9, [{ clientId: id, agreement: 0.5, reputation: 0.5, weight: 1, flagged: false }]);
    await expect(unknownRound).rejects.toThrow(foreignKeyViolation);
    await expect(unknownRound).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await t.db.rounds.create({ number: 1, config: CONFIG });
    await expect(t.db.reputations.record(1, [{ clientId: 'c-missing', agreement: 0.5, reputation: 0.5, weight: 1, flagged: false }])).rejects.toThrow(foreignKeyViolation);
  });

  it('gives every client its history, oldest round first, by client id', async () => {
    const [a, b] = [await client('a'), await client('b')];
    for (const number of [1, 2, 3]) await t.db.rounds.create({ number, config: CONFIG });
    const entry = (clientId: string, reputation: number) => ({ clientId, agreement: reputation, reputation, weight: 1, flagged: false });
    await t.db.reputations.record(3, [entry(a, 0.3)]);
    await t.db.reputations.record(1, [entry(b, 0.1), entry(a, 0.1)]);
    await t.db.reputations.record(2, [entry(a, 0.2)]);
    const history = await t.db.reputations.historyByClient();
    expect([...history.keys()]).toEqual([a, b].sort());
    expect(history.get(a)?.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(await t.db.reputations.latest()).toEqual(new Map([[a, 0.3], [b, 0.1]]));
  });
});
