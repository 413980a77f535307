import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { z } from 'zod';

import { leaderboard, type Comparison, type RatingRow } from '../../src-shared/ratings/bradley-terry.js';
import { AppError } from '../../src-shared/errors.js';
import { describeFileError, readJsonObjectFile } from '../credentials/json-file.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { withFileLock } from '../files/file-lock.js';
import { timestampSchema } from './session-schema.js';
import { voteWinners } from '../../src-shared/conversation/session.js';

/** One blind vote: which two models were compared, and the verdict. */
export const voteSchema = z.object({
  /** The Pair session it was cast in. */
  session_id: z.string(),
  /** ISO 8601. */
  at: timestampSchema,
  /** The model shown as "Model A" (its resolved model_name). */
  a: z.string().min(1),
  /** The model shown as "Model B". */
  b: z.string().min(1),
  /** `tie` and `both-bad` count as a tie in the ratings. */
  winner: z.enum(voteWinners),
});

/** One blind vote. */
export type Vote = z.infer<typeof voteSchema>;

const votesFileSchema = z.object({ version: z.literal(1), votes: z.array(voteSchema) });

/** A vote as a comparison for the ratings: both-bad is a tie. */
export function voteToComparison(vote: Vote): Comparison {
  return { a: vote.a, b: vote.b, winner: vote.winner === 'both-bad' ? 'tie' : vote.winner };
}

/**
 * The blind votes, kept in `<data>/votes.json` (written atomically under a cross-process lock). The
 * leaderboard is always computed from them, never stored.
 */
export class VoteStore {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'votes.json');
  }

  /** Every vote, oldest first; a broken file is an `invalid-input` error naming it (and is never overwritten). */
  async list(): Promise<Vote[]> {
    const file = await readJsonObjectFile(this.path, 'votes file');
    if (file.status === 'missing') return [];
    if (file.status === 'broken') throw file.error;
    const parsed = votesFileSchema.safeParse(file.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AppError(
        'invalid-input',
        `The votes file ${this.path} is not in the expected form at ${issue?.path.join('.') ?? ''}: ` +
          `${issue?.message ?? 'unexpected content'}. Fix or move it; new votes are not saved until then.`,
        { path: this.path },
      );
    }
    return parsed.data.votes;
  }

  /** Adds a vote (read, append, atomic write, one at a time). */
  add(vote: Vote): Promise<void> {
    // Read, append and write under the file's cross-process lock: a vote cast in another window is never lost.
    return withFileLock(this.path, async () => {
      const votes = await this.list();
      votes.push(voteSchema.parse(vote));
      try {
        await mkdir(dirname(this.path), { recursive: true });
        await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, votes }, null, 2)}\n`, { mode: 0o600 });
      } catch (error) {
        throw new AppError('internal', `Could not save the vote to ${this.path}: ${describeFileError(error)}.`, {
          path: this.path,
        });
      }
    });
  }

  /** How many votes there are, and the ratings from all of them (Bradley–Terry, 95% bootstrap interval), best first. */
  async leaderboard(): Promise<{ votes: number; rows: RatingRow[] }> {
    const votes = await this.list();
    return { votes: votes.length, rows: leaderboard(votes.map(voteToComparison)) };
  }
}
