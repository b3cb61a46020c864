import { statementsPerUnit } from '../../bench/pg-statements';

describe("PostgreSQL's statements per device (bench)", () => {
  test('totals per unit, then the most frequent shapes, each per unit', () => {
    const lines = statementsPerUnit([
      { calls: 600, ms: 30, query: 'SELECT * FROM agent_commands WHERE id = $1::text' },
      { calls: 300, ms: 15, query: 'BEGIN' },
      { calls: 100, ms: 5, query: 'COMMIT' },
    ], 100, 2);
    expect(lines).toEqual([
      '10.0 statements per device (3 shapes, 0.50 ms executing per device); the most frequent:',
      '      6.0  SELECT * FROM agent_commands WHERE id = $1::text',
      '      3.0  BEGIN',
    ]);
  });
});
