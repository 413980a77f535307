/**
 * The CLI's entry point.
 *
 * Start-up rule: a command loads only what it needs. `clemplay --help` loads this file and commander (bundled into
 * it), nothing else (`--version` alone is answered by bin/clemplay.mjs from package.json); `clemplay resolve` loads
 * this file and the module of `resolve`, never the API server,
 * `ws`, the `openai` SDK, node-llama-cpp or the web host (`cli/startup.test.ts` fails when one of them creeps in).
 *
 * So each command is one row of {@link commandModules}: its name, the usage and description `clemplay --help` lists,
 * and a `load` that imports the module defining its arguments, options and action. Only the module of the command
 * being run is imported; the other commands are listed from their rows. To add a command:
 *
 * 1. write `src-main/cli/<name>.ts` exporting `register<Name>Command(program: Command): void`, which adds
 *    `program.command('<name>')` with its arguments, options and action (no description: it comes from the row).
 *    It may import what it needs statically: it is loaded only when its command runs. Shared helpers that other
 *    commands import (./options.js) must stay light: import heavy modules inside functions with `await import()`;
 * 2. add a row below, with the usage commander prints for it (`[options] <query> [message]`); `cli/main.test.ts`
 *    checks that the row agrees with the command.
 */
import { Command, CommanderError } from 'commander';
import { toAppErrorShape } from '../../src-shared/errors.js';
import { findAppRoot, readAppVersion } from '../paths.js';
import { exitCodeFor, exitCodes } from './exit-codes.js';

/** One command as `clemplay --help` lists it, before its module is loaded. */
export interface CommandRow {
  name: string;
  /** What commander prints after the name: `[options]`, then the arguments (`<required> [optional]`). */
  usage: string;
  /** One line, shown in `clemplay --help` and `clemplay <name> --help`. */
  description: string;
}

/** A module of commands: the rows it defines, and how to load it. */
export interface CommandModule {
  commands: readonly CommandRow[];
  /** Imports the module and returns its register function, which adds the commands of {@link commands}. */
  load(): Promise<(program: Command) => void>;
}

/** Every command of the CLI, in the order `clemplay --help` lists them. */
export const commandModules: readonly CommandModule[] = [
  {
    commands: [
      {
        name: 'serve',
        usage: '[options]',
        description: 'serve the app in a browser: the UI and its API on 127.0.0.1, behind a per-run token',
      },
    ],
    load: async () => (await import('./serve.js')).registerServeCommand,
  },
  {
    commands: [
      {
        name: 'models',
        usage: '[options]',
        description: 'list the registry entries in lookup order, with backend and source file',
      },
      {
        name: 'resolve',
        usage: '[options] [query]',
        description:
          'resolve a model spec against the registry: a name, or a JSON object such as \'{"model_name": "x"}\'',
      },
    ],
    load: async () => (await import('./registry-commands.js')).registerRegistryCommands,
  },
  {
    commands: [
      {
        name: 'chat',
        usage: '[options] <query> [message]',
        description: 'chat with a model: one reply to MESSAGE, or an interactive session without it',
      },
      {
        name: 'pair',
        usage: '[options] <a> <b> <messages...>',
        description: 'send the same messages to two models, each with its own history, and print both answers',
      },
      {
        name: 'dialogue',
        usage: '[options] <a> <b> <opening>',
        description: 'let two models talk: A answers the opening, B answers A, and so on',
      },
    ],
    load: async () => (await import('./chat.js')).registerChatCommand,
  },
  {
    commands: [
      {
        name: 'games',
        usage: '[options]',
        description: 'the games clemplay can run, their roles and experiments',
      },
      {
        name: 'run',
        usage: '[options]',
        description: 'play games with one model (self-play) or two (one per role); results in clembench’s layout',
      },
      {
        name: 'eval',
        usage: '[options]',
        description:
          'scores of a results folder: % played, quality score and clemscore; writes results.csv and results.html',
      },
      {
        name: 'transcribe',
        usage: '[options]',
        description: 'write transcript.html again for every episode of a results folder',
      },
    ],
    load: async () => (await import('./games-commands.js')).registerGameCommands,
  },
  {
    commands: [
      {
        name: 'inspect',
        usage: '[options] <file>',
        description: 'show what a GGUF model file is: architecture, parameters, quantization, context length, metadata',
      },
      {
        name: 'gpu',
        usage: '[options]',
        description:
          'show the compute backend node-llama-cpp uses (CUDA, Vulkan, Metal or CPU), GPUs, VRAM and RAM, ' +
          'and the thread count `threads: "auto"` measured',
      },
      {
        name: 'pull',
        usage: '[options] <uri>',
        description:
          'download a GGUF model: hf:user/repo:quant, hf:user/repo/file.gguf or an https:// URL ' +
          '(progress on stderr; Ctrl+C cancels and keeps the part downloaded; running it again resumes)',
      },
    ],
    load: async () => (await import('./local-models.js')).registerLocalModelCommands,
  },
  {
    commands: [
      {
        name: 'trust',
        usage: '[options] [origin]',
        description:
          'trust a server (https://host:port) with backend-wide API keys, or list (--list) or remove (--remove) trusted ones',
      },
    ],
    load: async () => (await import('./trust.js')).registerTrustCommand,
  },
  {
    commands: [
      {
        name: 'folders',
        usage: '[options]',
        description: 'show where clemplay keeps settings, the user registry, keys, conversations, models and results',
      },
    ],
    load: async () => (await import('./folders.js')).registerFoldersCommand,
  },
  {
    commands: [
      {
        name: 'api',
        usage: '[options]',
        description: 'serve every registry model to other apps as an OpenAI-compatible API on 127.0.0.1',
      },
    ],
    load: async () => (await import('./api.js')).registerApiCommand,
  },
];

/** The command an argument list runs (`clemplay help resolve` runs `resolve --help`), or undefined. */
export function commandNameOf(argv: readonly string[]): string | undefined {
  const words = argv.slice(2).filter((argument) => !argument.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * Builds the command tree for running `commandName`: that command's module is loaded and defines it in full; every
 * other command is a row that only `--help` shows.
 */
export async function createProgram(commandName?: string): Promise<Command> {
  const program = new Command('clemplay')
    .description('A playground for language models: a unifying model registry, chat, pairs and games.')
    .version(readAppVersion(findAppRoot()), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError()
    .exitOverride()
    // Listed rows have no arguments or options of their own yet: their usage comes from the row.
    .configureHelp({ subcommandTerm: (command) => `${command.name()} ${command.usage()}` });
  const running = commandModules.find((module) => module.commands.some((row) => row.name === commandName));
  if (running !== undefined) (await running.load())(program);
  for (const module of commandModules) {
    for (const row of module.commands) {
      const defined = program.commands.find((command) => command.name() === row.name);
      if (defined !== undefined) defined.description(row.description);
      else program.command(row.name).usage(row.usage).description(row.description);
    }
  }
  return program;
}

/** Runs the CLI on `argv` (as process.argv) and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = await createProgram(commandNameOf(argv));
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
