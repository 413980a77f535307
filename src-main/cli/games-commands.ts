import { resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { games } from '../../src-shared/games/catalog.js';
import type { EvalResult } from '../../src-shared/games/eval.js';
import { evaluate } from '../../src-shared/games/eval.js';
import type { EpisodeRef, RunnerEvent } from '../../src-shared/games/run-view.js';
import { createGameResources, defaultInstancesPath, readInstanceFile } from '../games/game-files.js';
import { evaluateResults, readEpisodeScores, transcribeResults } from '../games/results-reader.js';
import { executeRun, planRun, type RunSummary } from '../games/runner.js';
import { findAppRoot } from '../paths.js';
import { exitCodes } from './exit-codes.js';
import { collect, maxTokensOption, registryOption, servicesForCommand, temperatureOption } from './options.js';
import { lineReader, terminalHuman } from './terminal-input.js';

/** The results folder when none is given: `./results`, clembench's habit. */
const defaultResultsDir = 'results';

function instanceIds(value: string, previous: number[] = []): number[] {
  const ids = value.split(',').map((part) => part.trim());
  if (ids.some((id) => !/^\d+$/.test(id))) {
    throw new InvalidArgumentError('instance ids are whole numbers separated by commas, e.g. 0,3');
  }
  return [...previous, ...ids.map(Number)];
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function figure(value: number | null): string {
  return value === null ? '–' : value.toFixed(2);
}

/** The scores table `run` and `eval` print: a row per game and model pair, then each pair's clemscore. */
export function formatEvalTable(result: EvalResult): string {
  if (result.rows.length === 0) return 'no scored episodes\n';
  const header = ['game', 'models', 'episodes', '% played', 'quality score', 'clemscore'];
  const rows = result.rows.map((row) => [
    row.game,
    row.models,
    String(row.episodes),
    figure(row.played),
    figure(row.quality_score),
    figure(row.clemscore),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => pad(cell, widths[column]!, column >= 2))
      .join('  ')
      .trimEnd();
  const overall = result.overall.map(
    (entry) =>
      `clemscore ${figure(entry.clemscore)}  ${entry.models}  (% played ${figure(entry.played)}, quality score ${figure(entry.quality_score)})`,
  );
  return [line(header), ...rows.map(line), '', ...overall].join('\n') + '\n';
}

function episodeName(event: { ref: EpisodeRef }): string {
  return `${event.ref.game}/${event.ref.experiment}/${String(event.ref.game_id).padStart(5, '0')}`;
}

/** Progress on stderr: one updating line on a terminal, a line per episode otherwise; `finish` ends the line. */
function progressReporter(stream: NodeJS.WriteStream): { onEvent(event: RunnerEvent): void; finish(): void } {
  const live = stream.isTTY === true;
  let open = false;
  let done = 0;
  let total = 0;
  const write = (text: string, final: boolean): void => {
    if (live) {
      stream.write(`\r\x1b[K${text}${final ? '\n' : ''}`);
      open = !final;
    } else {
      stream.write(`${text}\n`);
    }
  };
  const closeLine = (): void => {
    if (open) stream.write('\n');
    open = false;
  };
  const onEvent = (event: RunnerEvent): void => {
    switch (event.type) {
      case 'run-start':
        total = event.total;
        stream.write(
          `playing ${event.total} episode${event.total === 1 ? '' : 's'}` +
            (event.skipped > 0 ? ` (${event.skipped} already complete, skipped)` : '') +
            '\n',
        );
        break;
      case 'episode-end': {
        done += 1;
        const score = event.main_score === null ? '' : `, Main Score ${figure(event.main_score)}`;
        write(`[${done}/${total}] ${episodeName(event)}: ${event.outcome}${score}`, false);
        break;
      }
      case 'episode-error':
        done += 1;
        closeLine();
        write(`[${done}/${total}] ${episodeName(event)}: error[${event.error.code}] ${event.error.message}`, true);
        break;
      default:
        break;
    }
  };
  return { onEvent, finish: closeLine };
}

interface RunCommandOptions {
  game: string[];
  model: string[];
  experiment?: string[];
  instanceIds?: number[];
  instances?: string;
  results: string;
  registry?: string[];
  temperature?: number;
  maxTokens?: number;
}

function registerRun(program: Command): void {
  program
    .command('run')
    .requiredOption('-g, --game <game>', 'a game to play (repeatable); see `clemplay games`', collect)
    .requiredOption(
      '-m, --model <query>',
      'a model name or JSON spec; once for self-play, twice for one per role',
      collect,
    )
    .option('-e, --experiment <name>', 'only this experiment (repeatable); default all', collect)
    .option('--instance-ids <ids>', 'only these game_ids, comma-separated (e.g. 0,3)', instanceIds)
    .option('--instances <file>', 'an instance file in clembench’s format instead of the game’s own (one game only)')
    .option('--results <dir>', 'the results folder', defaultResultsDir)
    .option(registryOption.flags, registryOption.description, collect)
    .option('-t, --temperature <t>', 'sampling temperature for every model (default 0)', temperatureOption)
    .option('-l, --max-tokens <n>', 'the most tokens per answer', maxTokensOption)
    .action(async (options: RunCommandOptions) => {
      const services = await servicesForCommand(options.registry);
      const controller = new AbortController();
      const interrupt = (): void => {
        if (controller.signal.aborted) process.exit(130);
        process.stderr.write('\nstopping: episodes that finished are kept (Ctrl+C again to quit at once)\n');
        controller.abort();
      };
      process.on('SIGINT', interrupt);
      // A human player answers on the terminal, as in `clemplay chat`; stdin is read only once one is asked.
      const terminal: { readline?: Interface; nextLine?: () => Promise<string | null> } = {};
      const person = terminalHuman(() => {
        if (terminal.nextLine === undefined) {
          terminal.readline = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
          terminal.readline.on('SIGINT', interrupt);
          terminal.nextLine = lineReader(terminal.readline);
        }
        return terminal.nextLine();
      });
      try {
        const resultsDir = resolve(options.results);
        const plan = await planRun(
          { ...services, backendContext: { ...services.backendContext, humanInput: person } },
          {
            games: options.game,
            models: options.model,
            resultsDir,
            ...(options.experiment ? { experiments: options.experiment } : {}),
            ...(options.instanceIds ? { instanceIds: options.instanceIds } : {}),
            ...(options.instances ? { instancesFile: resolve(options.instances) } : {}),
            ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
            ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
            ...(process.env.CLEMPLAY_PARALLEL_EPISODES
              ? { concurrency: Number(process.env.CLEMPLAY_PARALLEL_EPISODES) || 1 }
              : {}),
          },
          createGameResources(),
        );
        const progress = progressReporter(process.stderr);
        const summary: RunSummary = await executeRun(plan, {
          version: services.version,
          signal: controller.signal,
          onEvent: progress.onEvent,
        });
        progress.finish();
        const scope = new Set(plan.games.map((gamePlan) => `${gamePlan.modelsFolder}\n${gamePlan.game.name}`));
        const records = (await readEpisodeScores(resultsDir)).filter((record) =>
          scope.has(`${record.models}\n${record.game}`),
        );
        process.stdout.write(formatEvalTable(evaluate(records)));
        process.stderr.write(
          `${summary.played} played, ${summary.skipped} skipped, ${summary.failed.length} failed` +
            `${summary.stopped ? ', stopped' : ''}; results in ${resultsDir}\n`,
        );
        if (summary.stopped) process.exitCode = 130;
        else if (summary.failed.length > 0) process.exitCode = exitCodes.error;
      } finally {
        process.off('SIGINT', interrupt);
        terminal.readline?.close();
        await services.dispose();
      }
    });
}

export function registerGameCommands(program: Command): void {
  program.command('games').action(async () => {
    const appRoot = findAppRoot();
    for (const game of games) {
      let experiments: string;
      try {
        const file = await readInstanceFile(defaultInstancesPath(appRoot, game.name));
        experiments = file.experiments
          .map((experiment) => `${experiment.name} (${experiment.game_instances.length})`)
          .join(', ');
      } catch (error) {
        experiments = `unreadable: ${(error as Error).message}`;
      }
      process.stdout.write(
        `${game.name}\n  ${game.description}\n  roles: ${game.roles.join(', ')}\n  experiments: ${experiments}\n`,
      );
    }
  });

  registerRun(program);

  program
    .command('eval')
    .option('--results <dir>', 'the results folder', defaultResultsDir)
    .option(
      '--json',
      'print one JSON object: {rows: [{game, models, played, quality_score, clemscore, …}], overall, clemscore}',
    )
    .action(async (options: { results: string; json?: boolean }) => {
      const resultsDir = resolve(options.results);
      const result = await evaluateResults(resultsDir);
      process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : formatEvalTable(result));
      process.stderr.write(`wrote ${resultsDir}/results.csv and results.html\n`);
    });

  program
    .command('transcribe')
    .option('--results <dir>', 'the results folder', defaultResultsDir)
    .action(async (options: { results: string }) => {
      const resultsDir = resolve(options.results);
      const { written, skipped } = await transcribeResults(resultsDir);
      process.stdout.write(`wrote ${written} transcript${written === 1 ? '' : 's'} under ${resultsDir}\n`);
      for (const path of skipped) process.stderr.write(`skipped ${path}: no readable interactions.json\n`);
    });
}
