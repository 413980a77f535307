/**
 * Is the chat pipeline a bottleneck? A fast local OpenAI-style stream is read two ways in the same run, from the same
 * server (in a process of its own, as a llama.cpp or vLLM server is): directly by the openai SDK (the baseline), and
 * through clemplay's whole path — a chat session over the web host's WebSocket to an API client in a process of its
 * own, as a browser is (session engine, backend, delta batching, tRPC, JSON over the socket). The figure is the ratio of
 * characters per second delivered: app / SDK (aim ≥ 0.9).
 *
 * It also times stopping (the issue asks for "within 100 ms"): from aborting a generation to its `end: abort` part
 * (in process), and from a client's stop over the web host to the server seeing its HTTP request closed.
 *
 * Run: npx tsx bench/stream.ts
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { openModel, streamReply } from '../src-main/conversation/open-model.js';
import { startWebHost } from '../src-main/host/web-host.js';
import { connectApiClient, type WebSocketApiClient } from '../src-main/testing/api-client.js';
import { replyOverApi } from '../src-main/testing/session-client.js';
import { startFakeOpenAIServer } from '../src-main/testing/fake-openai-server.js';
import { createTestServices } from '../src-main/testing/services.js';

/** One way of reading the stream, measured over several runs. */
export interface StreamMeasurement {
  path: 'sdk' | 'app' | 'in-process';
  /** Median characters per second over the runs. */
  charactersPerSecond: number;
  /** Median milliseconds from request to the first text. */
  firstTextMs: number;
  /** Median number of stream parts (messages, for the app) the reader got. */
  parts: number;
}

/** What `npm run bench` prints for this benchmark. */
export interface StreamBenchResult {
  tokens: number;
  runs: number;
  measurements: StreamMeasurement[];
  /** app characters/s ÷ SDK characters/s. */
  ratio: number;
  /** Stop latencies in milliseconds: abort → end part in process, unsubscribe → HTTP request closed. */
  stopMilliseconds: { inProcess: number[]; webHost: number[] };
  headline: string;
}

/** One read of the whole stream. */
export interface Sample {
  characters: number;
  seconds: number;
  firstMs: number;
  /** Stream parts the reader got (the app merges deltas that pile up, so fewer than the server's deltas). */
  parts: number;
}

const tokens = 20_000;
/** What the fast server streams: `tokens` one-word deltas. */
export const fastReply = Array.from({ length: tokens }, (_, index) => `w${index % 997}`).join(' ');
const runs = 7;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export async function main(): Promise<StreamBenchResult> {
  const remote = await spawnRole<{ baseUrl: string }>('server', {});
  // The stop timings need to see the server side of the request, so their slow server runs here.
  const fake = await startFakeOpenAIServer({ script: () => ({ type: 'reply', text: fastReply, delayMs: 20 }) });
  const folder = mkdtempSync(join(tmpdir(), 'clemplay-bench-stream-'));
  const registry = join(folder, 'model_registry.json');
  writeFileSync(
    registry,
    JSON.stringify([
      { model_name: 'fast', backend: 'openai_compatible', model_id: 'm', base_url: remote.setup.baseUrl },
      { model_name: 'slow', backend: 'openai_compatible', model_id: 'slow', base_url: fake.baseUrl },
    ]),
  );
  const services = await createTestServices({ registryFiles: [registry] });
  const host = await startWebHost({ services, rendererDir: folder });
  const client = connectApiClient(host);
  const browser = await spawnRole<Record<string, never>>('client', { port: host.port, token: host.token });
  const sdk = new OpenAI({ apiKey: 'none', baseURL: remote.setup.baseUrl, maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'go' }];

  const viaSdk = (): Promise<Sample> => readWithSdk(sdk, 'm');

  async function viaApp(): Promise<Sample> {
    return JSON.parse(await browser.ask('run')) as Sample;
  }

  /** The same reply path without the transport and the session: the model's stream read in this process. */
  async function inProcess(): Promise<Sample> {
    const started = performance.now();
    let first = 0;
    let characters = 0;
    let parts = 0;
    const { model } = await openModel(services, 'fast');
    for await (const part of streamReply(model, { messages, options: {} }, new AbortController().signal)) {
      parts += 1;
      if (part.type !== 'text-delta') continue;
      if (first === 0) first = performance.now();
      characters += part.text.length;
    }
    await model.dispose();
    return { characters, seconds: (performance.now() - started) / 1000, firstMs: first - started, parts };
  }

  /** Milliseconds from abort to the stream's `end: abort`, with the model's stream read in this process. */
  async function stopInProcess(): Promise<number> {
    const controller = new AbortController();
    let abortedAt = 0;
    const { model } = await openModel(services, 'slow');
    for await (const part of streamReply(model, { messages, options: {} }, controller.signal)) {
      if (part.type === 'text-delta' && abortedAt === 0) {
        abortedAt = performance.now();
        controller.abort();
      }
      if (part.type === 'end' || part.type === 'error') break;
    }
    await model.dispose();
    return performance.now() - abortedAt;
  }

  /** Milliseconds from a client's stop over the web host (sessions.stop) to the server seeing its HTTP request closed. */
  async function stopOverWebHost(): Promise<number> {
    const index = fake.requests.length;
    let stoppedAt = 0;
    let stopping: Promise<unknown> = Promise.resolve();
    await replyOverApi(client.api, { query: 'slow', text: 'go' }, (part, sessionId) => {
      if (part.type !== 'text-delta' || stoppedAt !== 0) return;
      stoppedAt = performance.now();
      stopping = client.api.sessions.stop.mutate({ id: sessionId });
    });
    await stopping;
    const outcome = await fake.outcome(index);
    if (outcome !== 'client-closed') throw new Error(`the request ended as ${outcome}`);
    return performance.now() - stoppedAt;
  }

  try {
    // Both paths warm up first: the app path has more code for the JIT to compile (the first runs are slower).
    for (let warmUp = 0; warmUp < 3; warmUp++) {
      await viaSdk();
      await viaApp();
      await inProcess();
    }
    const samples: Record<StreamMeasurement['path'], Sample[]> = { sdk: [], app: [], 'in-process': [] };
    for (let run = 0; run < runs; run++) {
      samples.sdk.push(await viaSdk());
      samples.app.push(await viaApp());
      samples['in-process'].push(await inProcess());
    }
    const measure = (path: StreamMeasurement['path']): StreamMeasurement => ({
      path,
      charactersPerSecond: median(samples[path].map((sample) => sample.characters / sample.seconds)),
      firstTextMs: median(samples[path].map((sample) => sample.firstMs)),
      parts: median(samples[path].map((sample) => sample.parts)),
    });
    const measurements = [measure('sdk'), measure('app'), measure('in-process')];
    const [direct, app, local] = measurements as [StreamMeasurement, StreamMeasurement, StreamMeasurement];
    if (samples.app.some((sample) => sample.characters !== fastReply.length)) throw new Error('the app lost text');
    const ratio = app.charactersPerSecond / direct.charactersPerSecond;
    const stops = { inProcess: [] as number[], webHost: [] as number[] };
    for (let run = 0; run < 10; run++) {
      stops.inProcess.push(await stopInProcess());
      stops.webHost.push(await stopOverWebHost());
    }
    const stopLine = (name: string, values: number[]) =>
      `${name}: median ${median(values).toFixed(1)} ms, worst ${Math.max(...values).toFixed(1)} ms (10 stops)`;
    console.log(stopLine('stop, abort → end: abort (in process)', stops.inProcess));
    console.log(stopLine('stop, sessions.stop over the web host → HTTP request closed', stops.webHost));
    const headline =
      `stream: ${tokens} tokens; SDK ${Math.round(direct.charactersPerSecond).toLocaleString('en')} chars/s, ` +
      `app over web host ${Math.round(app.charactersPerSecond).toLocaleString('en')} chars/s; app/SDK = ${ratio.toFixed(2)} ` +
      `(in process, without the transport: ${(local.charactersPerSecond / direct.charactersPerSecond).toFixed(2)})`;
    for (const measurement of measurements) {
      console.log(
        `${measurement.path.padEnd(10)} ${Math.round(measurement.charactersPerSecond).toLocaleString('en').padStart(12)} chars/s` +
          `   first text ${measurement.firstTextMs.toFixed(1)} ms   ${measurement.parts} parts (medians of ${runs})`,
      );
    }
    console.log(headline);
    return { tokens, runs, measurements, ratio, stopMilliseconds: stops, headline };
  } finally {
    browser.stop();
    remote.stop();
    client.close();
    await host.close();
    await services.dispose();
    await fake.close();
  }
}

/** Reads a streamed chat completion with the openai SDK, as any OpenAI client would. */
async function readWithSdk(sdk: OpenAI, model: string): Promise<Sample> {
  const started = performance.now();
  let first = 0;
  let characters = 0;
  const stream = await sdk.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'go' }],
    stream: true,
  });
  let parts = 0;
  for await (const chunk of stream) {
    const text = chunk.choices[0]?.delta.content ?? '';
    if (text !== '' && first === 0) first = performance.now();
    characters += text.length;
    parts += 1;
  }
  return { characters, seconds: (performance.now() - started) / 1000, firstMs: first - started, parts };
}

/** Reads a reply over the web host the way the renderer does; `firstMs` is from sending to the first text. */
async function readOverApi(api: WebSocketApiClient['api']): Promise<Sample> {
  let started = 0;
  let first = 0;
  let characters = 0;
  let parts = 0;
  let failure: string | null = null;
  await replyOverApi(
    api,
    { query: 'fast', text: 'go' },
    (part) => {
      parts += 1;
      if (part.type === 'text-delta') {
        if (first === 0) first = performance.now();
        characters += part.text.length;
      } else if (part.type === 'error') {
        failure = part.error.message;
      }
    },
    () => (started = performance.now()),
  );
  if (failure !== null) throw new Error(failure);
  return { characters, seconds: (performance.now() - started) / 1000, firstMs: first - started, parts };
}

/** This file also runs as the server or the client process: the role and its setup come in this variable. */
const roleVariable = 'CLEMPLAY_BENCH_STREAM_ROLE';

/** A helper process of this benchmark: its setup line, a request/answer line exchange, and a way to stop it. */
export interface RoleProcess<Setup> {
  setup: Setup;
  ask(line: string): Promise<string>;
  stop(): void;
}

/**
 * Starts this file as the `server` (a fast fake OpenAI server; its setup is `{baseUrl}`) or the `client` (reads the
 * `fast` model: `run` over the web host at `port`/`token`, `api <baseURL> <key>` with the openai SDK; one JSON
 * {@link Sample} line back per request).
 */
export async function spawnRole<Setup>(
  role: 'server' | 'client',
  setup: Record<string, unknown>,
): Promise<RoleProcess<Setup>> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, [roleVariable]: JSON.stringify({ role, ...setup }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`the ${role} process ended early`);
    return line.value;
  };
  return {
    setup: JSON.parse(await next()) as Setup,
    ask: async (line) => {
      child.stdin.write(`${line}\n`);
      return next();
    },
    stop: () => child.stdin.end(),
  };
}

/** The server or client process: announces itself on stdout, serves until its stdin ends. */
async function runRole(setup: { role: 'server' | 'client'; port?: number; token?: string }): Promise<void> {
  const input = createInterface({ input: process.stdin });
  if (setup.role === 'server') {
    const server = await startFakeOpenAIServer({ script: () => ({ type: 'reply', text: fastReply }) });
    process.stdout.write(`${JSON.stringify({ baseUrl: server.baseUrl })}\n`);
    input.on('close', () => void server.close().then(() => process.exit(0)));
    return;
  }
  const client = connectApiClient({ port: setup.port ?? 0, token: setup.token ?? '' });
  process.stdout.write('{}\n');
  for await (const line of input) {
    if (line === 'run') process.stdout.write(`${JSON.stringify(await readOverApi(client.api))}\n`);
    const [command, baseURL, apiKey] = line.split(' ');
    if (command === 'api' && baseURL !== undefined && apiKey !== undefined) {
      const sdk = new OpenAI({ apiKey, baseURL, maxRetries: 0 });
      process.stdout.write(`${JSON.stringify(await readWithSdk(sdk, 'fast'))}\n`);
    }
  }
  client.close();
  process.exit(0);
}

const role = process.env[roleVariable];
if (role !== undefined) {
  runRole(JSON.parse(role) as Parameters<typeof runRole>[0]).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
