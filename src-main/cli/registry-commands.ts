import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { AppError, toAppErrorShape } from '../../src-shared/errors.js';
import { formatExplanation } from '../../src-shared/spec/explain.js';
import { entryPlace } from '../../src-shared/spec/lookup.js';
import { collect, registryOption, registryForCommand } from './options.js';

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The --queries file; a file that cannot be read is the user's to fix (exit 2), not an internal error. */
async function readQueries(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AppError('invalid-input', `cannot read the queries file ${path}: ${(error as Error).message}`);
  }
}

/** `clemplay models` and `clemplay resolve`. */
export function registerRegistryCommands(program: Command): void {
  program
    .command('models')
    .option(registryOption.flags, registryOption.description, collect)
    .option('--json', 'print one JSON array of { entry, index, file, lookupSource }')
    .action(async (options: { registry?: string[]; json?: boolean }) => {
      const registry = await registryForCommand(options.registry);
      try {
        const entries = registry.entries();
        if (options.json) {
          process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
          return;
        }
        const width = Math.max(10, ...entries.map((row) => text(row.entry.model_name).length));
        const backendWidth = Math.max(7, ...entries.map((row) => text(row.entry.backend).length));
        process.stdout.write(`${'model_name'.padEnd(width)}  ${'backend'.padEnd(backendWidth)}  source\n`);
        for (const row of entries) {
          const source = entryPlace(row.lookupSource, row.index);
          process.stdout.write(
            `${text(row.entry.model_name).padEnd(width)}  ${text(row.entry.backend).padEnd(backendWidth)}  ${source}\n`,
          );
        }
      } finally {
        registry.close();
      }
    });

  program
    .command('resolve')
    .argument('[query]', 'a model name or a JSON spec')
    .option(registryOption.flags, registryOption.description, collect)
    .option('--json', 'print exactly the resolved spec as one JSON object (with --explain: the structured explanation)')
    .option('--explain', 'show every entry in order: matched, or where it conflicts; bindings; key provenance')
    .option('--queries <file>', 'resolve one query per line; print one JSON line each: the spec or {"error": …}')
    .action(
      async (
        query: string | undefined,
        options: { registry?: string[]; json?: boolean; explain?: boolean; queries?: string },
      ) => {
        if ((query === undefined) === (options.queries === undefined)) {
          throw new AppError('invalid-input', 'give either a QUERY or --queries FILE');
        }
        // The queries file is read while the registry loads; a registry problem is still reported first.
        const queriesText = options.queries === undefined ? undefined : readQueries(options.queries);
        queriesText?.catch(() => undefined);
        const registry = await registryForCommand(options.registry);
        try {
          if (queriesText !== undefined) {
            const lines = (await queriesText).split(/\r?\n/).filter((line) => line.trim() !== '');
            let failed = false;
            // Written in blocks: a write per line costs more than its lookup.
            let block = '';
            for (const line of lines) {
              try {
                block += `${JSON.stringify(registry.resolveSpec(line))}\n`;
              } catch (error) {
                failed = true;
                const { code, message } = toAppErrorShape(error);
                block += `${JSON.stringify({ error: { code, message } })}\n`;
              }
              if (block.length >= 65_536) {
                process.stdout.write(block);
                block = '';
              }
            }
            process.stdout.write(block);
            if (failed) process.exitCode = 2;
            return;
          }
          const given = query as string;
          if (options.explain) {
            const explanation = registry.explain(given);
            process.stdout.write(
              options.json ? `${JSON.stringify(explanation, null, 2)}\n` : `${formatExplanation(explanation)}\n`,
            );
            if (!explanation.result.ok) {
              // The explanation says why on stdout; stderr still carries the one-line error every failure prints.
              process.stderr.write(`error[no-match]: ${explanation.result.error.message}\n`);
              process.exitCode = 2;
            }
            return;
          }
          const resolution = registry.resolve(given);
          if (options.json) {
            process.stdout.write(`${JSON.stringify(resolution.spec)}\n`);
            return;
          }
          const source = resolution.source;
          process.stdout.write(`${JSON.stringify(resolution.spec, null, 2)}\n`);
          const bindings = Object.entries(resolution.provenance.bindings)
            .map(([name, value]) => `${name} = ${JSON.stringify(value)}`)
            .join(', ');
          process.stderr.write(
            source === null
              ? 'from: the query itself (it names a backend; no registry entry matched)\n'
              : `from: ${entryPlace(source.lookupSource, source.index)}` +
                  (bindings === '' ? '\n' : ` (variables: ${bindings})\n`),
          );
        } finally {
          registry.close();
        }
      },
    );
}
