import { createInterface, type Interface } from 'node:readline';
import type { Command } from 'commander';
import type { FinishReason, GenerationOptions, Usage } from '../../src-shared/chat.js';
import type { SessionView } from '../../src-shared/conversation/session.js';
import { currentVersion, type MessageVersion } from '../../src-shared/conversation/transcript.js';
import type { AppErrorShape } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { SessionEngine, type CreateSessionInput, type ParticipantInput } from '../conversation/session-engine.js';
import type { AppServices } from '../services.js';
import { exitCodeFor } from './exit-codes.js';
import {
  collect,
  maxTokensOption,
  numberOption,
  registryOption,
  servicesForCommand,
  temperatureOption,
} from './options.js';
import { lineReader, terminalHuman } from './terminal-input.js';

/** The outcome of one reply, as `--json` prints it. */
export interface TurnResult {
  text: string;
  usage: Usage | null;
  finish_reason: FinishReason;
  error?: AppErrorShape;
}

/** A reply as `--json` prints it. */
export function turnResult(version: MessageVersion): TurnResult {
  const result: TurnResult = {
    text: version.text,
    usage: version.usage ?? null,
    finish_reason: version.finish_reason ?? (version.status === 'stopped' ? 'abort' : 'error'),
  };
  if (version.error !== undefined) result.error = version.error;
  return result;
}

/** One line of statistics for a reply: how it ended, tokens, tokens/s and time to first token. */
export function statsLine(version: MessageVersion): string {
  const tokens = version.usage?.output_tokens ?? null;
  const rate = version.timing?.tokens_per_second;
  const first = version.timing?.first_token_ms;
  return (
    `[${version.finish_reason ?? version.status}] ${tokens ?? '–'} tokens, ` +
    `${rate === null || rate === undefined ? '–' : rate.toFixed(1)} tokens/s, ` +
    `time to first token ${first === null || first === undefined ? '–' : `${Math.round(first)} ms`}`
  );
}

/**
 * A terminal conversation: the same session engine as the app (nothing saved), a person at the terminal for human
 * participants, Ctrl+C to stop what is running (a second Ctrl+C, or one while idle, leaves).
 */
class TerminalSession {
  readonly engine: SessionEngine;
  readonly nextLine: () => Promise<string | null>;
  private readonly readline: Interface;
  private running = false;
  private sessionId: string | null = null;
  /** Who speaks each message, from the events: all a streamed piece of text needs besides itself. */
  private readonly speakers = new Map<string, string>();
  private readonly watch = new AbortController();
  private readonly textListeners = new Set<(messageId: string, text: string, speaker: string) => void>();

  constructor(private readonly services: AppServices) {
    this.readline = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
    this.nextLine = lineReader(this.readline);
    this.engine = new SessionEngine({
      registry: services.registry,
      backendContext: { ...services.backendContext, humanInput: terminalHuman(this.nextLine) },
    });
    this.readline.on('SIGINT', this.interrupt);
    process.on('SIGINT', this.interrupt);
  }

  private readonly interrupt = (): void => {
    if (this.running && this.sessionId !== null) {
      void this.engine.stop(this.sessionId);
      return;
    }
    this.readline.close();
    process.exit(130);
  };

  /** Makes the session and follows its events from the start (before any turn, so no text is missed). */
  async start(input: CreateSessionInput): Promise<SessionView> {
    const session = await this.engine.create(input);
    this.sessionId = session.id;
    let resolveFirst: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (resolveFirst = resolve));
    void (async () => {
      for await (const { event } of this.engine.subscribe(session.id, null, this.watch.signal)) {
        if (event.type === 'snapshot') {
          for (const message of event.session.messages) this.speakers.set(message.id, message.speaker);
        }
        if (event.type === 'message') this.speakers.set(event.message.id, event.message.speaker);
        if (event.type === 'part' && event.part.type === 'warning') {
          process.stderr.write(`warning[${event.part.warning.code}]: ${event.part.warning.message}\n`);
        }
        if (event.type === 'part' && event.part.type === 'text-delta') {
          const speaker = this.speakers.get(event.message_id) ?? '';
          for (const listener of this.textListeners) listener(event.message_id, event.part.text, speaker);
        }
        resolveFirst();
      }
    })();
    await first;
    return session;
  }

  /** Called with each piece of text as it streams. */
  onText(listener: (messageId: string, text: string, speaker: string) => void): void {
    this.textListeners.add(listener);
  }

  /** Runs work that streams (a turn, a dialogue) with Ctrl+C stopping it. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.running = true;
    try {
      return await work();
    } finally {
      this.running = false;
    }
  }

  /** The session as it stands after the work finished. */
  async current(): Promise<SessionView> {
    return this.engine.get(this.sessionId!);
  }

  async close(): Promise<void> {
    process.off('SIGINT', this.interrupt);
    this.watch.abort();
    this.readline.close();
    await this.engine.dispose();
    await this.services.dispose();
  }
}

function versionOf(session: SessionView, messageId: string): MessageVersion {
  const message = session.messages.find((candidate) => candidate.id === messageId);
  if (message === undefined) throw new Error(`message ${messageId} is missing`);
  return currentVersion(message);
}

/** A participant of a terminal session: its query, its system message and the generation options given. */
function participantInput(
  query: string,
  system: string | undefined,
  options: { temperature?: number; maxTokens?: number },
): ParticipantInput {
  const generation: GenerationOptions = {
    ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
  };
  return {
    query,
    ...(system === undefined ? {} : { system }),
    ...(Object.keys(generation).length === 0 ? {} : { options: generation }),
  };
}

function participantSpec(session: SessionView, id: string): JsonObject {
  return session.participants.find((participant) => participant.id === id)?.spec ?? {};
}

/** The options `chat` and `pair` share. */
interface ChatCommandOptions {
  system?: string;
  temperature?: number;
  maxTokens?: number;
  json?: boolean;
  registry?: string[];
}

function registerChat(program: Command): void {
  program
    .command('chat')
    .argument('<query>', 'a model name or a JSON spec, resolved against the registry')
    .argument('[message]', 'the message to answer; without it, an interactive session (one message per line)')
    .option('-s, --system <text>', 'a system message')
    .option('-t, --temperature <t>', 'sampling temperature, 0..2', temperatureOption)
    .option('-m, --max-tokens <n>', 'the most tokens to generate', maxTokensOption)
    .option('--json', 'print one final JSON object {text, usage, finish_reason, error?} instead of streaming')
    .option(registryOption.flags, registryOption.description, collect)
    .action(async (query: string, message: string | undefined, options: ChatCommandOptions) => {
      const terminal = new TerminalSession(await servicesForCommand(options.registry));
      try {
        await terminal.start({ kind: 'chat', participants: [participantInput(query, options.system, options)] });
        if (!options.json) terminal.onText((_messageId, text) => process.stdout.write(text));
        const turn = async (text: string): Promise<TurnResult> => {
          const result = await terminal.run(async () => {
            const started = await terminal.engine.send((await terminal.current()).id, text);
            await started.finished;
            return versionOf(await terminal.current(), started.reply_ids[0]!);
          });
          if (!options.json) process.stderr.write(`\n${statsLine(result)}\n`);
          return turnResult(result);
        };
        if (message !== undefined) {
          const result = await turn(message);
          if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
          if (result.error !== undefined) {
            process.stderr.write(`error[${result.error.code}]: ${result.error.message}\n`);
            process.exitCode = exitCodeFor(result.error.code);
          }
          return;
        }
        for (;;) {
          if (process.stdin.isTTY) process.stderr.write('you> ');
          const line = await terminal.nextLine();
          if (line === null) break;
          if (line.trim() === '') continue;
          const result = await turn(line);
          // One line per reply: piped into a file, the replies do not run together.
          process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : '\n');
          if (result.error !== undefined)
            process.stderr.write(`error[${result.error.code}]: ${result.error.message}\n`);
        }
      } finally {
        await terminal.close();
      }
    });
}

function registerPair(program: Command): void {
  program
    .command('pair')
    .argument('<a>', 'model A: a model name or a JSON spec')
    .argument('<b>', 'model B: a model name or a JSON spec')
    .argument('<messages...>', 'the messages, sent in order to both models')
    .option('-s, --system <text>', 'a system message for both')
    .option('-t, --temperature <t>', 'sampling temperature, 0..2', temperatureOption)
    .option('-m, --max-tokens <n>', 'the most tokens to generate per reply', maxTokensOption)
    .option('--json', 'print one JSON object {a: {spec, turns}, b: {spec, turns}} instead of text blocks')
    .option(registryOption.flags, registryOption.description, collect)
    .action(async (a: string, b: string, messages: string[], options: ChatCommandOptions) => {
      const terminal = new TerminalSession(await servicesForCommand(options.registry));
      try {
        // Both queries are resolved here, before anything is sent: a typo fails the command at once (exit 2).
        const session = await terminal.start({
          kind: 'pair',
          participants: [participantInput(a, options.system, options), participantInput(b, options.system, options)],
        });
        const turns: Record<'a' | 'b', TurnResult[]> = { a: [], b: [] };
        let firstError: AppErrorShape | undefined;
        for (const [position, message] of messages.entries()) {
          const started = await terminal.run(async () => {
            const turn = await terminal.engine.send(session.id, message);
            await turn.finished;
            return turn;
          });
          const view = await terminal.current();
          for (const [index, replyId] of started.reply_ids.entries()) {
            const name = index === 0 ? 'a' : 'b';
            const version = versionOf(view, replyId);
            const result = turnResult(version);
            turns[name].push(result);
            firstError ??= result.error;
            if (!options.json) {
              process.stdout.write(`${name.toUpperCase()}: ${version.text}\n`);
              process.stderr.write(
                `${name.toUpperCase()} ${statsLine(version)}${result.error ? ` — ${result.error.message}` : ''}\n`,
              );
            }
          }
          if (!options.json && position < messages.length - 1) process.stdout.write('\n');
        }
        const view = await terminal.current();
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify({
              a: { spec: participantSpec(view, 'a'), turns: turns.a },
              b: { spec: participantSpec(view, 'b'), turns: turns.b },
            })}\n`,
          );
        }
        if (firstError !== undefined) {
          process.stderr.write(`error[${firstError.code}]: ${firstError.message}\n`);
          process.exitCode = exitCodeFor(firstError.code);
        }
      } finally {
        await terminal.close();
      }
    });
}

interface DialogueCommandOptions {
  turns: number;
  systemA?: string;
  systemB?: string;
  maxTokens?: number;
  json?: boolean;
  registry?: string[];
}

function registerDialogue(program: Command): void {
  program
    .command('dialogue')
    .argument('<a>', 'model A: a model name or a JSON spec')
    .argument('<b>', 'model B: a model name or a JSON spec')
    .argument('<opening>', 'the opening message, sent to A')
    .requiredOption(
      '-n, --turns <n>',
      'replies in all (A, B, A, …), 1..1000',
      numberOption('turns', { integer: true, minimum: 1, maximum: 1000 }),
    )
    .option('--system-a <text>', 'a system message for A')
    .option('--system-b <text>', 'a system message for B')
    .option('-m, --max-tokens <n>', 'the most tokens to generate per reply', maxTokensOption)
    .option('--json', 'print one JSON object {transcript, a: {spec}, b: {spec}} instead of streaming')
    .option(registryOption.flags, registryOption.description, collect)
    .action(async (a: string, b: string, opening: string, options: DialogueCommandOptions) => {
      const terminal = new TerminalSession(await servicesForCommand(options.registry));
      try {
        const session = await terminal.start({
          kind: 'dialogue',
          participants: [participantInput(a, options.systemA, options), participantInput(b, options.systemB, options)],
        });
        let speaking: string | null = null;
        if (!options.json) {
          terminal.onText((messageId, text, speaker) => {
            if (messageId !== speaking) {
              process.stdout.write(`${speaking === null ? '' : '\n\n'}${speaker.toUpperCase()}: `);
              speaking = messageId;
            }
            process.stdout.write(text);
          });
        }
        await terminal.run(async () => {
          const { finished } = await terminal.engine.startDialogue(session.id, opening, options.turns);
          await finished;
        });
        if (speaking !== null) process.stdout.write('\n');
        const view = await terminal.current();
        const transcript = view.messages
          .filter((message) => message.speaker === 'a' || message.speaker === 'b')
          .map((message) => ({ speaker: message.speaker, ...turnResult(currentVersion(message)) }));
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify({
              transcript,
              a: { spec: participantSpec(view, 'a') },
              b: { spec: participantSpec(view, 'b') },
            })}\n`,
          );
        }
        const failed = transcript.find((turn) => turn.error !== undefined);
        if (failed?.error !== undefined) {
          process.stderr.write(
            `error[${failed.error.code}]: ${failed.speaker.toUpperCase()}: ${failed.error.message}\n`,
          );
          process.exitCode = 1;
        }
      } finally {
        await terminal.close();
      }
    });
}

/** `clemplay chat`, `clemplay pair` and `clemplay dialogue`: conversations on the app's session engine. */
export function registerChatCommand(program: Command): void {
  registerChat(program);
  registerPair(program);
  registerDialogue(program);
}
