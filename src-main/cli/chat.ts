import { createInterface, type Interface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import type { ChatMessage, FinishReason, GenerationOptions, Usage } from '../../src-shared/chat.js';
import type { AppErrorShape } from '../../src-shared/errors.js';
import type { HumanInputBroker } from '../backends/types.js';
import { streamChat, type ChatDependencies } from '../chat/chat-service.js';
import { exitCodeFor } from './exit-codes.js';
import { collect, registryOption, servicesForCommand } from './options.js';

/** The outcome of one reply, as `--json` prints it. */
export interface ChatTurnResult {
  text: string;
  usage: Usage | null;
  finish_reason: FinishReason;
  error?: AppErrorShape;
}

interface TurnOutput {
  /** Where reply text goes as it streams (stdout), or nowhere with --json. */
  onText(text: string): void;
  /** Where progress and statistics go (stderr). */
  onNote(text: string): void;
}

function parseNumber(name: string, integer: boolean) {
  return (value: string): number => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || (integer && !Number.isInteger(number))) {
      throw new InvalidArgumentError(`${name} must be a${integer ? ' whole' : ''} number.`);
    }
    return number;
  };
}

/** Streams one reply and reports tokens, tokens/s and time to first token. */
export async function runTurn(
  dependencies: ChatDependencies,
  query: string,
  messages: ChatMessage[],
  options: GenerationOptions,
  signal: AbortSignal,
  output: TurnOutput,
): Promise<ChatTurnResult> {
  const started = performance.now();
  let firstTokenAt: number | null = null;
  let text = '';
  let deltas = 0;
  let usage: Usage | null = null;
  let finish: FinishReason = 'stop';
  let error: AppErrorShape | undefined;
  for await (const part of streamChat(dependencies, { query, messages, options }, signal)) {
    if (part.type === 'text-delta') {
      firstTokenAt ??= performance.now();
      deltas += 1;
      text += part.text;
      output.onText(part.text);
    } else if (part.type === 'warning') {
      output.onNote(`warning[${part.warning.code}]: ${part.warning.message}\n`);
    } else if (part.type === 'usage') {
      usage = part.usage;
    } else if (part.type === 'end') {
      finish = part.reason;
    } else if (part.type === 'error') {
      finish = 'error';
      error = part.error;
    }
  }
  const ended = performance.now();
  const tokens = usage?.output_tokens ?? deltas;
  const generationSeconds = firstTokenAt === null ? 0 : (ended - firstTokenAt) / 1000;
  const rate = generationSeconds > 0 ? `${(tokens / generationSeconds).toFixed(1)} tokens/s` : '– tokens/s';
  const ttft = firstTokenAt === null ? '–' : `${Math.round(firstTokenAt - started)} ms`;
  output.onNote(`\n[${finish}] ${tokens} tokens, ${rate}, time to first token ${ttft}\n`);
  return error === undefined ? { text, usage, finish_reason: finish } : { text, usage, finish_reason: finish, error };
}

/** The human backend in a terminal: the person types the answer on the next line. */
function terminalHuman(lines: () => Promise<string | null>): HumanInputBroker {
  return {
    async ask(request) {
      const last = [...request.messages].reverse().find((message) => message.role === 'user');
      process.stderr.write(`\n[human player] ${last?.content ?? ''}\nyour answer> `);
      const answer = await lines();
      if (answer === null) throw new Error('no answer: the input ended');
      return answer;
    },
  };
}

/** Reads lines one at a time from a readline interface; null at the end of input. */
function lineReader(readline: Interface): () => Promise<string | null> {
  const buffered: string[] = [];
  const waiting: Array<(line: string | null) => void> = [];
  let closed = false;
  readline.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else buffered.push(line);
  });
  readline.on('close', () => {
    closed = true;
    for (const next of waiting.splice(0)) next(null);
  });
  return () => {
    const line = buffered.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (closed) return Promise.resolve(null);
    return new Promise((resolve) => waiting.push(resolve));
  };
}

interface ChatCommandOptions {
  system?: string;
  temperature?: number;
  maxTokens?: number;
  json?: boolean;
  registry?: string[];
}

export function registerChatCommand(program: Command): void {
  program
    .command('chat')
    .description('chat with a model: one reply to MESSAGE, or an interactive session without it')
    .argument('<query>', 'a model name or a JSON spec, resolved against the registry')
    .argument('[message]', 'the message to answer; without it, an interactive session (one message per line)')
    .option('-s, --system <text>', 'a system message')
    .option('-t, --temperature <t>', 'sampling temperature, 0..2', parseNumber('temperature', false))
    .option('-m, --max-tokens <n>', 'the most tokens to generate', parseNumber('max tokens', true))
    .option('--json', 'print one final JSON object {text, usage, finish_reason, error?} instead of streaming')
    .option(registryOption.flags, registryOption.description, collect)
    .action(async (query: string, message: string | undefined, options: ChatCommandOptions) => {
      const services = await servicesForCommand(options.registry);
      const readline = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
      const nextLine = lineReader(readline);
      const dependencies: ChatDependencies = {
        registry: services.registry,
        backendContext: { ...services.backendContext, humanInput: terminalHuman(nextLine) },
      };
      const generation: GenerationOptions = {
        ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
        ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
      };
      const history: ChatMessage[] = options.system === undefined ? [] : [{ role: 'system', content: options.system }];
      const output: TurnOutput = options.json
        ? { onText: () => undefined, onNote: () => undefined }
        : { onText: (text) => process.stdout.write(text), onNote: (text) => process.stderr.write(text) };

      // Ctrl+C stops the reply in progress; a second Ctrl+C (or one at the prompt) leaves.
      let current: AbortController | null = null;
      const interrupt = (): void => {
        if (current !== null && !current.signal.aborted) {
          current.abort();
          return;
        }
        readline.close();
        process.exit(130);
      };
      readline.on('SIGINT', interrupt);
      process.on('SIGINT', interrupt);

      const turn = async (text: string): Promise<ChatTurnResult> => {
        current = new AbortController();
        const result = await runTurn(
          dependencies,
          query,
          [...history, { role: 'user', content: text }],
          generation,
          current.signal,
          output,
        );
        current = null;
        history.push({ role: 'user', content: text });
        if (result.text !== '') history.push({ role: 'assistant', content: result.text });
        return result;
      };

      try {
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
          const line = await nextLine();
          if (line === null) break;
          if (line.trim() === '') continue;
          const result = await turn(line);
          if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
          if (result.error !== undefined)
            process.stderr.write(`error[${result.error.code}]: ${result.error.message}\n`);
        }
      } finally {
        process.off('SIGINT', interrupt);
        readline.close();
        await services.dispose();
      }
    });
}
