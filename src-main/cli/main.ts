import { Command, CommanderError } from 'commander';
import { AppError } from '../../src-shared/errors.js';
import { createAppServices } from '../services.js';
import { registerServeCommand } from './serve.js';

/** Exit codes of the CLI. */
export const exitCodes = { ok: 0, error: 1, usage: 2 } as const;

/** Builds the command tree; `output` lets tests capture what it prints. */
export function createProgram(): Command {
  const program = new Command('clemplay')
    .description('A playground for language models: a unifying model registry, chat, pairs and games.')
    .version(createAppServices().version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError()
    .exitOverride();
  registerServeCommand(program);
  return program;
}

/** Runs the CLI on `argv` (as process.argv) and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return exitCodes.ok;
  }
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version "errors" are how commander ends those commands; they are successes.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return exitCodes.ok;
      if (error.code === 'commander.help') return exitCodes.ok;
      return exitCodes.usage;
    }
    const code = error instanceof AppError ? error.code : 'internal';
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`error[${code}]: ${message}\n`);
    return exitCodes.error;
  }
}
