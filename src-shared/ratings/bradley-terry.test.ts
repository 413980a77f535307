import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bradleyTerry, eloScale, leaderboard, type Comparison } from './bradley-terry.js';

function repeat(count: number, comparison: Comparison): Comparison[] {
  return Array.from({ length: count }, () => comparison);
}

describe('bradleyTerry', () => {
  // Hand-computed: with two models the maximum-likelihood odds are the win ratio, so p_A / p_B = wins_A / wins_B.
  it.each([
    {
      name: '3 wins to 1',
      votes: [...repeat(3, { a: 'A', b: 'B', winner: 'a' }), { a: 'A', b: 'B', winner: 'b' }],
      odds: 3,
    },
    {
      name: '1 win and 2 ties (a tie is half a win each)',
      votes: [{ a: 'A', b: 'B', winner: 'a' }, ...repeat(2, { a: 'B', b: 'A', winner: 'tie' })],
      odds: 2,
    },
    {
      name: 'even',
      votes: [
        { a: 'A', b: 'B', winner: 'a' },
        { a: 'B', b: 'A', winner: 'a' },
      ],
      odds: 1,
    },
  ] satisfies Array<{ name: string; votes: Comparison[]; odds: number }>)('two models, $name', ({ votes, odds }) => {
    const strengths = bradleyTerry(votes, { prior: 0 });
    expect(strengths.get('A')! / strengths.get('B')!).toBeCloseTo(odds, 9);
    // On the Elo scale 3:1 odds are 400·log10(3) ≈ 190.85 points apart.
    expect(eloScale(strengths.get('A')!) - eloScale(strengths.get('B')!)).toBeCloseTo(400 * Math.log10(odds), 6);
  });

  it('meets the likelihood equations: each model wins as often as its strengths predict', () => {
    const votes: Comparison[] = [
      ...repeat(2, { a: 'A', b: 'B', winner: 'a' }),
      { a: 'A', b: 'B', winner: 'b' },
      ...repeat(3, { a: 'B', b: 'C', winner: 'a' }),
      { a: 'C', b: 'B', winner: 'a' },
      { a: 'C', b: 'A', winner: 'a' },
      { a: 'A', b: 'C', winner: 'a' },
      { a: 'A', b: 'C', winner: 'tie' },
    ];
    const strengths = bradleyTerry(votes, { prior: 0 });
    for (const model of ['A', 'B', 'C']) {
      let observed = 0;
      let expected = 0;
      for (const vote of votes) {
        if (vote.a !== model && vote.b !== model) continue;
        const other = vote.a === model ? vote.b : vote.a;
        const mine = strengths.get(model)!;
        expected += mine / (mine + strengths.get(other)!);
        if (vote.winner === 'tie') observed += 0.5;
        else if (vote[vote.winner] === model) observed += 1;
      }
      expect(expected).toBeCloseTo(observed, 8);
    }
  });

  it('keeps an unbeaten model finite with the prior, and the prior alone is the average', () => {
    const strengths = bradleyTerry(repeat(5, { a: 'A', b: 'B', winner: 'a' }));
    expect(Number.isFinite(strengths.get('A'))).toBe(true);
    expect(strengths.get('A')!).toBeGreaterThan(1);
    expect(strengths.get('B')!).toBeLessThan(1);
    // Symmetric results give symmetric ratings around 1000.
    expect(eloScale(strengths.get('A')!) + eloScale(strengths.get('B')!)).toBeCloseTo(2000, 6);
  });

  it('is symmetric: swapping sides and winners changes nothing (property)', () => {
    const vote = fc.record({
      a: fc.constantFrom('x', 'y', 'z'),
      b: fc.constantFrom('x', 'y', 'z'),
      winner: fc.constantFrom('a' as const, 'b' as const, 'tie' as const),
    });
    fc.assert(
      fc.property(fc.array(vote, { maxLength: 30 }), (votes) => {
        const swapped = votes.map(({ a, b, winner }): Comparison => ({
          a: b,
          b: a,
          winner: winner === 'tie' ? 'tie' : winner === 'a' ? 'b' : 'a',
        }));
        const left = bradleyTerry(votes);
        const right = bradleyTerry(swapped);
        for (const [model, strength] of left) expect(right.get(model)!).toBeCloseTo(strength, 6);
      }),
      { numRuns: 50 },
    );
  });
});

describe('leaderboard', () => {
  it('ranks by rating with counts and an interval around the rating', () => {
    const votes: Comparison[] = [
      ...repeat(6, { a: 'strong', b: 'weak', winner: 'a' }),
      ...repeat(2, { a: 'weak', b: 'strong', winner: 'a' }),
      ...repeat(2, { a: 'strong', b: 'weak', winner: 'tie' }),
    ];
    const rows = leaderboard(votes);
    expect(rows.map((row) => row.model)).toEqual(['strong', 'weak']);
    expect(rows[0]).toMatchObject({ votes: 10, wins: 6, losses: 2, ties: 2 });
    expect(rows[1]).toMatchObject({ votes: 10, wins: 2, losses: 6, ties: 2 });
    for (const row of rows) {
      expect(row.low).toBeLessThanOrEqual(row.rating);
      expect(row.high).toBeGreaterThanOrEqual(row.rating);
      expect(row.high).toBeGreaterThan(row.low);
    }
    // The same votes give the same board: nothing random is left in it.
    expect(leaderboard(votes)).toEqual(rows);
  });

  it('is empty without votes', () => {
    expect(leaderboard([])).toEqual([]);
  });
});
