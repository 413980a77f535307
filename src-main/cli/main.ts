import { Command, CommanderError } from 'commander';
import { toAppErrorShape } from '../../src-shared/errors.js';
import { findAppRoot, readAppVersion } from '../paths.js';
import { registerApiCommand } from './api.js';
import { registerChatCommand } from './chat.js';
import { exitCodeFor, exitCodes } from './exit-codes.js';
import { registerFoldersCommand } from './folders.js';
import { registerGameCommands } from './games-commands.js';
import { registerLocalModelCommands } from './local-models.js';
import { registerRegistryCommands } from './registry-commands.js';
import { registerServeCommand } from './serve.js';
import { registerTrustCommand } from './trust.js';

/** Builds the command tree; `output` lets tests capture what it prints. */
export function createProgram(): Command {
  const program = new Command('clemplay')
    .description('A playground for language models: a unifying model registry, chat, pairs and games.')
    .version(readAppVersion(findAppRoot()), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError()
    .exitOverride();
  registerServeCommand(program);
  registerRegistryCommands(program);
  registerChatCommand(program);
  registerLocalModelCommands(program);
  registerGameCommands(program);
  registerFoldersCommand(program);
  registerTrustCommand(program);
  registerApiCommand(program);
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
    const { code, message } = toAppErrorShape(error);
    process.stderr.write(`error[${code}]: ${message}\n`);
    return exitCodeFor(code);
  }
}
