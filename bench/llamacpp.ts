/**
 * Local models: how much of node-llama-cpp's own speed reaches a client through clemplay. On a generated
 * ~150M-parameter Q4_0 GGUF (scripts/make-gguf.ts, preset bench150m), all in one run on the same file:
 *
 * 1. bare: node-llama-cpp's evaluate loop (greedy) on a context sequence, for every thread count 1..cores; the
 *    fastest is the baseline, and whether `threads: "auto"` (measured by the app's thread calibration on its first
 *    load) picks it is checked;
 * 2. app: `chat.stream` over the web host's WebSocket to an API client, with a llamacpp spec and `threads: "auto"`
 *    (resolve, backend, runtime, LlamaChat, delta batching, tRPC, JSON over the socket) — the client in a process
 *    of its own, as a browser or Electron's renderer is, and, for comparison, in the web host's own process. Same
 *    context size as the bare loop ({@link contextSize}) and the same Llama instance: the services' own;
 * 3. time to first token both ways, on the same prompt (each run starts with a different word, so no path reuses
 *    the previous run's prompt from the KV cache);
 * 4. `clemplay chat SPEC PROMPT --max-tokens N`, a process per reply (its own tokens/s line, from the first token
 *    to the end: the process start and the model load are not part of it), with its own calibration cache.
 *
 * Prints tokens/s (medians) and ratios app ÷ bare (aim ≥ 0.95): each the median of the ratios of the rounds, in
 * which the paths run one after the other. Run: npx tsx bench/llamacpp.ts
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Llama, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { ensureTestModel } from '../scripts/test-models.js';
import { countParameters, ggufPresets } from '../scripts/make-gguf.js';
import { toChatHistory } from '../src-main/backends/llamacpp.js';
import { startWebHost } from '../src-main/host/web-host.js';
import { physicalCoreCount } from '../src-main/llama/threads.js';
import { connectApiClient, type WebSocketApiClient } from '../src-main/testing/api-client.js';
import { replyOverApi } from '../src-main/testing/session-client.js';
import { createTestServices } from '../src-main/testing/services.js';

/** One generation, timed. */
interface Sample {
  tokens: number;
  /** Milliseconds from the request to the first token (bare) or the first text (app). */
  firstTokenMs: number;
  /** Tokens per second after the first one. */
  tokensPerSecond: number;
}

/** A path measured over several runs (medians). */
export interface LlamaCppMeasurement {
  path: string;
  threads: number;
  tokensPerSecond: number;
  firstTokenMs: number;
}

/** What `npm run bench` prints for this benchmark. */
export interface LlamaCppBenchResult {
  model: string;
  parameters: number;
  /** Bare evaluate loop per thread count. */
  threadSweep: LlamaCppMeasurement[];
  bestThreads: number;
  autoThreads: number;
  bare: LlamaCppMeasurement;
  /** The client in a process of its own, as a browser or Electron's renderer is. */
  app: LlamaCppMeasurement;
  /** The client in the web host's own process (it competes with the host for the event loop). */
  appInProcess: LlamaCppMeasurement;
  /** app tokens/s ÷ bare tokens/s (best thread count), the median over rounds (see {@link pairedRatio}). */
  ratio: number;
  /** appInProcess tokens/s ÷ bare tokens/s, likewise. */
  inProcessRatio: number;
  /** `clemplay chat`, a process per reply. */
  cli: LlamaCppMeasurement;
  /** cli tokens/s ÷ bare tokens/s, likewise. */
  cliRatio: number;
  /** That ratio in each round, in order: the spread behind the median. */
  cliRoundRatios: number[];
  /** app time to first token ÷ bare time to first token, likewise. */
  firstTokenRatio: number;
  headline: string;
}

/** Tokens per sequence on both paths: the KV cache's size changes the cost of every token. */
const contextSize = 2048;
const generatedTokens = 192;
const sweepTokens = 96;
const runs = 3;
/** Rounds of the comparison; each runs every path once, one after the other. */
const comparisonRuns = 11;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** First words with distinct first letters: consecutive runs on one sequence share no prompt to reuse. */
const firstWords = ['Once', 'Tell', 'Write', 'Describe', 'Imagine', 'Explain', 'Picture', 'Recall', 'Consider', 'Show'];
const moreFirstWords = ['Give', 'Narrate', 'Begin', 'Unfold', 'Fashion', 'Kindly', 'Let', 'Make', 'Help', 'Visualize'];

function prompt(index: number): string {
  const words = [...firstWords, ...moreFirstWords];
  return `${words[index % words.length]} a long story about the sea, the wind and a small boat that sails on.`;
}

/** The prompt tokens the app path evaluates for the same message: the model's chat template applied. */
async function promptTokens(model: LlamaModel, text: string): Promise<Token[]> {
  const { resolveChatWrapper } = await import('node-llama-cpp');
  const history = toChatHistory([{ role: 'user', content: text }]);
  return resolveChatWrapper(model).generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer);
}

async function bareRun(
  model: LlamaModel,
  sequence: LlamaContextSequence,
  run: number,
  tokens: number,
): Promise<Sample> {
  const input = await promptTokens(model, prompt(run));
  await sequence.clearHistory();
  const started = performance.now();
  let first = 0;
  let last = 0;
  let count = 0;
  for await (const _token of sequence.evaluate(input, { temperature: 0 })) {
    count += 1;
    last = performance.now();
    if (count === 1) first = last;
    if (count >= tokens) break;
  }
  return { tokens: count, firstTokenMs: first - started, tokensPerSecond: (count - 1) / ((last - first) / 1000) };
}

/** A model with one context of `threads` threads, for bare runs; `close` frees it. */
async function openBare(
  llama: Llama,
  path: string,
  threads: number,
): Promise<{ run(run: number, tokens: number): Promise<Sample>; close(): Promise<void> }> {
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const context = await model.createContext({ contextSize, threads, sequences: 1 });
  const sequence = context.getSequence();
  await bareRun(model, sequence, 99, 16);
  return {
    run: (run, tokens) => bareRun(model, sequence, run, tokens),
    async close() {
      await context.dispose();
      await model.dispose();
    },
  };
}

/**
 * What the app path sends: an ad-hoc llamacpp spec (it names its backend, so no registry entry is needed), on the
 * CPU with the bare loop's context size, so that the two differ only in the path the tokens take.
 */
type BenchQuery = {
  backend: 'llamacpp';
  model_name: string;
  model_path: string;
  threads: 'auto';
  gpu_layers: 0;
  context_size: number;
};

/** One reply through a chat session over the web host, timed at the client from sending. */
async function appRun(api: WebSocketApiClient['api'], query: BenchQuery, run: number, tokens: number): Promise<Sample> {
  let started = 0;
  let first = 0;
  let ended = 0;
  let outputTokens = 0;
  let failure: string | null = null;
  await replyOverApi(
    api,
    { query, text: prompt(run), options: { max_tokens: tokens } },
    (part) => {
      if (part.type === 'text-delta' && first === 0) first = performance.now();
      else if (part.type === 'usage') outputTokens = part.usage.output_tokens ?? 0;
      else if (part.type === 'error') failure = `${part.error.code}: ${part.error.message}`;
      else if (part.type === 'end') ended = performance.now();
    },
    () => (started = performance.now()),
  );
  if (failure !== null) throw new Error(failure);
  return {
    tokens: outputTokens,
    firstTokenMs: first - started,
    tokensPerSecond: (outputTokens - 1) / ((ended - first) / 1000),
  };
}

/** Environment variable that makes this file a client process: `{ port, token, query }` as JSON. */
const clientEnvironmentVariable = 'CLEMPLAY_BENCH_LLAMACPP_CLIENT';

/**
 * The client in a process of its own, as a browser or Electron's renderer is: reads "run tokens" lines on stdin,
 * answers each with a JSON {@link Sample} line on stdout.
 */
async function clientProcess(setup: { port: number; token: string; query: BenchQuery }): Promise<void> {
  const client = connectApiClient(setup);
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [run = 0, tokens = 0] = line.split(' ').map(Number);
    process.stdout.write(`${JSON.stringify(await appRun(client.api, setup.query, run, tokens))}\n`);
  }
  client.close();
}

/** Starts {@link clientProcess}; `run` asks it for one reply. */
function spawnClient(setup: { port: number; token: string; query: BenchQuery }): {
  run(run: number, tokens: number): Promise<Sample>;
  close(): void;
} {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, [clientEnvironmentVariable]: JSON.stringify(setup) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async run(run, tokens) {
      child.stdin.write(`${run} ${tokens}\n`);
      const answer = await answers.next();
      if (answer.done === true) throw new Error('the client process ended early');
      return JSON.parse(answer.value) as Sample;
    },
    close() {
      child.stdin.end();
    },
  };
}

/** A folder for the CLI's data (its thread calibration is measured on the first run and reused after). */
const cliData = mkdtempSync(join(tmpdir(), 'clemplay-bench-cli-data-'));

/** One reply through `clemplay chat` in a process of its own; its tokens/s from the line it prints on stderr. */
function cliRun(query: BenchQuery, run: number, tokens: number): Sample {
  const bin = fileURLToPath(new URL('../bin/clemplay.mjs', import.meta.url));
  const result = spawnSync(
    process.execPath,
    [bin, 'chat', JSON.stringify(query), prompt(run), '--max-tokens', String(tokens)],
    {
      encoding: 'utf8',
      env: { ...process.env, XDG_DATA_HOME: cliData, XDG_CONFIG_HOME: join(cliData, 'config') },
      maxBuffer: 64 * 2 ** 20,
    },
  );
  // `[length] 192 tokens, 185.3 tokens/s, time to first token 96 ms`
  const line = /\] (\d+) tokens, ([\d.]+) tokens\/s, time to first token (\d+) ms/.exec(result.stderr);
  if (result.status !== 0 || line === null)
    throw new Error(`clemplay chat failed (${result.status}): ${result.stderr}`);
  const count = Number(line[1]);
  // The CLI divides all tokens by the time from the first to the end; the other paths count the gaps after the first.
  const seconds = count / Number(line[2]);
  return { tokens: count, firstTokenMs: Number(line[3]), tokensPerSecond: (count - 1) / seconds };
}

/** A path's figure ÷ the bare loop's, round by round. */
function roundRatios(path: readonly Sample[], bare: readonly Sample[], value: (sample: Sample) => number): number[] {
  return path.map((sample, round) => value(sample) / value(bare[round] as Sample));
}

/**
 * A path's speed relative to the bare loop: the median of its ratio in each round. The two runs of a round are
 * seconds apart, so a slower minute on this shared machine slows both and leaves their ratio; medians of each side
 * taken apart would mix a fast minute of one with a slow one of the other.
 */
function pairedRatio(path: readonly Sample[], bare: readonly Sample[], value: (sample: Sample) => number): number {
  return median(roundRatios(path, bare, value));
}

function summarize(path: string, threads: number, samples: Sample[]): LlamaCppMeasurement {
  return {
    path,
    threads,
    tokensPerSecond: median(samples.map((sample) => sample.tokensPerSecond)),
    firstTokenMs: median(samples.map((sample) => sample.firstTokenMs)),
  };
}

export async function main(): Promise<LlamaCppBenchResult> {
  const modelPath = await ensureTestModel('bench150m');
  const parameters = countParameters(ggufPresets.bench150m);
  // The services' own local-model runtime serves the app path; its Llama instance runs the bare loop too.
  const services = await createTestServices();
  const llama = await services.localModels.runtime.getLlama();
  const cores = physicalCoreCount();

  // (1) Bare, every thread count; the best is the baseline.
  const threadSweep: LlamaCppMeasurement[] = [];
  for (let threads = 1; threads <= Math.max(cores, 2); threads += 1) {
    const bare = await openBare(llama, modelPath, threads);
    const samples: Sample[] = [];
    for (let run = 0; run < runs; run += 1) samples.push(await bare.run(100 + threads * 10 + run, sweepTokens));
    await bare.close();
    threadSweep.push(summarize('bare', threads, samples));
  }
  const best = threadSweep.reduce((winner, candidate) =>
    candidate.tokensPerSecond > winner.tokensPerSecond ? candidate : winner,
  );

  // (2) and (3): through the app, over the web host.
  const folder = mkdtempSync(join(tmpdir(), 'clemplay-bench-llamacpp-'));
  const host = await startWebHost({ services, rendererDir: folder });
  const client = connectApiClient(host);
  const query: BenchQuery = {
    backend: 'llamacpp',
    model_name: 'bench150m',
    model_path: modelPath,
    threads: 'auto',
    gpu_layers: 0,
    context_size: contextSize,
  };
  const remote = spawnClient({ port: host.port, token: host.token, query });

  const bareBest = await openBare(llama, modelPath, best.threads);
  try {
    // The first load with threads "auto" measures the thread count (the services' data folder is new).
    await appRun(client.api, query, 0, 16);
    await remote.run(1, 16);
    cliRun(query, 1, 16);
    const autoThreads = services.localModels.runtime.status().find((model) => model.path === modelPath)
      ?.resolved?.threads;
    if (autoThreads === undefined) throw new Error('the app did not report the thread count it loaded the model with');
    // Alternating runs, so that every path sees the same machine (other load, clock changes) as far as possible.
    const samples: Record<'bare' | 'app' | 'appInProcess' | 'cli', Sample[]> = {
      bare: [],
      app: [],
      appInProcess: [],
      cli: [],
    };
    for (let run = 0; run < comparisonRuns; run += 1) {
      // The bare loop and the separate client see the same prompt; the next run on the app's sequence another.
      samples.bare.push(await bareBest.run(2 + 2 * run, generatedTokens));
      samples.app.push(await remote.run(2 + 2 * run, generatedTokens));
      samples.appInProcess.push(await appRun(client.api, query, 3 + 2 * run, generatedTokens));
      samples.cli.push(cliRun(query, 2 + 2 * run, generatedTokens));
    }
    if (Object.values(samples).some((list) => list.some((sample) => sample.tokens !== generatedTokens))) {
      throw new Error('a run generated fewer tokens than asked for: the comparison would be unfair');
    }
    const bare = summarize('bare', best.threads, samples.bare);
    const app = summarize('app (client in its own process)', autoThreads, samples.app);
    const appInProcess = summarize('app (client in the host process)', autoThreads, samples.appInProcess);
    const cli = summarize('clemplay chat (a process per reply)', autoThreads, samples.cli);
    const speed = (sample: Sample): number => sample.tokensPerSecond;
    const ratio = pairedRatio(samples.app, samples.bare, speed);
    const cliRatio = pairedRatio(samples.cli, samples.bare, speed);
    const inProcessRatio = pairedRatio(samples.appInProcess, samples.bare, speed);
    const firstTokenRatio = pairedRatio(samples.app, samples.bare, (sample) => sample.firstTokenMs);
    const headline =
      `${(parameters / 1e6).toFixed(0)}M Q4_0 on CPU; bare best ${Math.round(bare.tokensPerSecond)} tokens/s ` +
      `(threads ${best.threads} of 1..${Math.max(cores, 2)}; auto = ${autoThreads}); app over the web host ` +
      `${Math.round(app.tokensPerSecond)} tokens/s, app/bare = ${ratio.toFixed(2)} ` +
      `(${inProcessRatio.toFixed(2)} with the client in the host's process); clemplay chat/bare = ` +
      `${cliRatio.toFixed(2)}; first token ` +
      `${bare.firstTokenMs.toFixed(0)} ms bare, ${app.firstTokenMs.toFixed(0)} ms app`;
    return {
      model: 'bench150m',
      parameters,
      threadSweep,
      bestThreads: best.threads,
      autoThreads,
      bare,
      app,
      appInProcess,
      ratio,
      inProcessRatio,
      cli,
      cliRatio,
      cliRoundRatios: roundRatios(samples.cli, samples.bare, speed),
      firstTokenRatio,
      headline,
    };
  } finally {
    await bareBest.close();
    remote.close();
    client.close();
    await host.close();
    // Unloads the app's model and lets go of the Llama instance (the runtime made it, and nothing failed to load).
    await services.dispose();
  }
}

const clientSetup = process.env[clientEnvironmentVariable];
if (clientSetup !== undefined) {
  clientProcess(JSON.parse(clientSetup) as { port: number; token: string; query: BenchQuery }).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (result) => {
      for (const row of result.threadSweep) {
        console.log(
          `bare threads ${row.threads}: ${row.tokensPerSecond.toFixed(1).padStart(7)} tokens/s   first token ${row.firstTokenMs.toFixed(1)} ms`,
        );
      }
      console.log(
        `best thread count ${result.bestThreads}; threads "auto" (measured by the app) = ${result.autoThreads} ` +
          `(${result.autoThreads === result.bestThreads ? 'the best' : 'NOT the best'})`,
      );
      for (const row of [result.bare, result.app, result.appInProcess, result.cli]) {
        console.log(
          `${row.path.padEnd(33)} threads ${row.threads}: ${row.tokensPerSecond.toFixed(1).padStart(7)} tokens/s   first token ${row.firstTokenMs.toFixed(1)} ms`,
        );
      }
      console.log(
        `app/bare tokens/s = ${result.ratio.toFixed(3)} (client in the host process: ${result.inProcessRatio.toFixed(3)}); ` +
          `clemplay chat/bare = ${result.cliRatio.toFixed(3)}; ` +
          `app/bare time to first token = ${result.firstTokenRatio.toFixed(2)}`,
      );
      console.log(
        `clemplay chat/bare in each round: ${result.cliRoundRatios.map((ratio) => ratio.toFixed(2)).join(' ')}`,
      );
      console.log(result.headline);
      // node-llama-cpp's worker threads can keep the process alive after the Llama instance is done.
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
