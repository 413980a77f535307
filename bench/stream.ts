/**
 * Is the chat pipeline a bottleneck? A fast local OpenAI-style stream (a server in a process of its own, as a
 * llama.cpp or vLLM server is) is read two ways in the same run, each by a client in a process of its own, through a
 * middle process, so that both sides have the same three busy processes on the machine's cores:
 *
 * - baseline: the `openai` SDK in the client process reads the server through a byte-for-byte TCP relay in the middle
 *   process (the bench's own), which is all a middle can do without looking at the stream;
 * - app: clemplay's whole path — a chat session on the web host in the middle process (backend, delta batching,
 *   session engine, event log, tRPC, JSON over the WebSocket) to an API client in the client process, as a browser is.
 *
 * The figure is the ratio of characters per second delivered: app / SDK (aim ≥ 0.9). Each process's CPU time per run
 * is printed too: on a shared machine it says where the work is when wall-clock figures wobble, and the CPU time of
 * all three processes together, SDK ÷ app, is what a saturated machine's rates would come to (waiting for a core adds
 * to wall-clock time, not to CPU time). Two more paths read
 * the server from the middle process alone (two processes): the SDK, and the app's reply stream without the session
 * and the transport, which isolates the backend and the batching.
 *
 * It also times stopping (the issue asks for "within 100 ms"): from aborting a generation to its `end: abort` part
 * (in process), and from a client's stop over the web host to the server seeing its HTTP request closed.
 *
 * Run: npx tsx bench/stream.ts
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
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

/** The ways of reading the stream: three processes each (`sdk`, `app`), or two (`sdk-direct`, `in-process`). */
export type StreamPath = 'sdk' | 'app' | 'sdk-direct' | 'in-process';

/** One way of reading the stream, measured over several runs. */
export interface StreamMeasurement {
  path: StreamPath;
  /** Median characters per second over the runs. */
  charactersPerSecond: number;
  /** Median milliseconds from request to the first text. */
  firstTextMs: number;
  /** Median number of stream parts (messages, for the app) the reader got. */
  parts: number;
  /** Median CPU milliseconds (user + system) of each process during one run. */
  cpuMs: { server: number; middle: number; client: number };
}

/** What `npm run bench` prints for this benchmark. */
export interface StreamBenchResult {
  tokens: number;
  runs: number;
  measurements: StreamMeasurement[];
  /** app characters/s ÷ SDK characters/s, three busy processes on each side. */
  ratio: number;
  /** in-process characters/s ÷ sdk-direct characters/s, two processes on each side. */
  inProcessRatio: number;
  /** CPU milliseconds of the three processes per run, SDK path ÷ app path (above 1: the app path costs less). */
  cpuRatio: number;
  /** Stop latencies in milliseconds: abort → end part in process, unsubscribe → HTTP request closed. */
  stopMilliseconds: { inProcess: number[]; webHost: number[] };
  headline: string;
}

/** One read of the whole stream, as its reader saw it. */
export interface Sample {
  characters: number;
  seconds: number;
  firstMs: number;
  /** Stream parts the reader got (the app merges deltas that pile up, so fewer than the server's deltas). */
  parts: number;
}

/** A sample with the CPU milliseconds each process spent on it. */
interface TimedSample extends Sample {
  cpuMs: StreamMeasurement['cpuMs'];
}

const tokens = 20_000;
export const fastReply = Array.from({ length: tokens }, (_, index) => `w${index % 997}`).join(' ');
const runs = 7;
const messages = [{ role: 'user' as const, content: 'go' }];

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** CPU milliseconds this process has used so far. */
function cpuMilliseconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** A TCP relay that copies bytes both ways between its clients and `port`, without reading them. */
async function startRelay(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((incoming) => {
    const outgoing = connect(port, '127.0.0.1');
    for (const socket of [incoming, outgoing]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    incoming.pipe(outgoing).pipe(incoming);
    incoming.on('close', () => outgoing.destroy());
    outgoing.on('close', () => incoming.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads the stream of model `model` with the openai SDK; its `baseURL` is the server's, the relay's or clemplay api's. */
async function readWithSdk(sdk: OpenAI, model = 'm'): Promise<Sample> {
  const started = performance.now();
  let first = 0;
  let characters = 0;
  let parts = 0;
  const stream = await sdk.chat.completions.create({ model, messages, stream: true });
  for await (const chunk of stream) {
    const text = chunk.choices[0]?.delta.content ?? '';
    if (text !== '' && first === 0) first = performance.now();
    characters += text.length;
    parts += 1;
  }
  return { characters, seconds: (performance.now() - started) / 1000, firstMs: first - started, parts };
}

export async function main(): Promise<StreamBenchResult> {
  const remote = await spawnRole<{ baseUrl: string; port: string }>('server', {});
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
  const relay = await startRelay(Number(remote.setup.port));
  const client = connectApiClient(host);
  const reader = await spawnRole<Record<string, never>>('client', {
    port: host.port,
    token: host.token,
    relayUrl: `http://127.0.0.1:${relay.port}/v1`,
  });
  const sdk = new OpenAI({ apiKey: 'none', baseURL: remote.setup.baseUrl, maxRetries: 0 });

  /** One read, with the CPU time of the server, this (middle) process and the client process. */
  async function timed(read: () => Promise<Sample & { clientCpuMs?: number }>): Promise<TimedSample> {
    const serverBefore = Number(await remote.ask('cpu'));
    const middleBefore = cpuMilliseconds();
    const sample = await read();
    const middle = cpuMilliseconds() - middleBefore;
    const server = Number(await remote.ask('cpu')) - serverBefore;
    return { ...sample, cpuMs: { server, middle, client: sample.clientCpuMs ?? 0 } };
  }

  const viaClient = (what: 'sdk' | 'app') => async (): Promise<Sample & { clientCpuMs: number }> =>
    JSON.parse(await reader.ask(what)) as Sample & { clientCpuMs: number };

  /** The reply stream without the session and the transport: the model's stream read in this process. */
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

  const readers: Record<StreamPath, () => Promise<TimedSample>> = {
    sdk: () => timed(viaClient('sdk')),
    app: () => timed(viaClient('app')),
    'sdk-direct': () => timed(() => readWithSdk(sdk)),
    'in-process': () => timed(inProcess),
  };
  const paths = Object.keys(readers) as StreamPath[];

  try {
    // Every path warms up first: the app path has more code for the JIT to compile (the first runs are slower).
    for (let warmUp = 0; warmUp < 3; warmUp++) for (const path of paths) await readers[path]();
    const samples: Record<StreamPath, TimedSample[]> = { sdk: [], app: [], 'sdk-direct': [], 'in-process': [] };
    // Interleaved, so that a burst of load from elsewhere on the machine falls on every path alike.
    for (let run = 0; run < runs; run++) for (const path of paths) samples[path].push(await readers[path]());
    for (const path of paths) {
      if (samples[path].some((sample) => sample.characters !== fastReply.length)) throw new Error(`${path} lost text`);
    }
    const measure = (path: StreamPath): StreamMeasurement => ({
      path,
      charactersPerSecond: median(samples[path].map((sample) => sample.characters / sample.seconds)),
      firstTextMs: median(samples[path].map((sample) => sample.firstMs)),
      parts: median(samples[path].map((sample) => sample.parts)),
      cpuMs: {
        server: median(samples[path].map((sample) => sample.cpuMs.server)),
        middle: median(samples[path].map((sample) => sample.cpuMs.middle)),
        client: median(samples[path].map((sample) => sample.cpuMs.client)),
      },
    });
    const measurements = paths.map(measure);
    const rate = (path: StreamPath): number => measurements.find((item) => item.path === path)!.charactersPerSecond;
    const ratio = rate('app') / rate('sdk');
    const inProcessRatio = rate('in-process') / rate('sdk-direct');
    const totalCpu = (path: StreamPath): number => {
      const { server, middle, client } = measurements.find((item) => item.path === path)!.cpuMs;
      return server + middle + client;
    };
    const cpuRatio = totalCpu('sdk') / totalCpu('app');
    const stops = { inProcess: [] as number[], webHost: [] as number[] };
    for (let run = 0; run < 10; run++) {
      stops.inProcess.push(await stopInProcess());
      stops.webHost.push(await stopOverWebHost());
    }
    const stopLine = (name: string, values: number[]) =>
      `${name}: median ${median(values).toFixed(1)} ms, worst ${Math.max(...values).toFixed(1)} ms (10 stops)`;
    console.log(stopLine('stop, abort → end: abort (in process)', stops.inProcess));
    console.log(stopLine('stop, sessions.stop over the web host → HTTP request closed', stops.webHost));
    console.log(
      `path         chars/s  first text   parts   CPU ms per run: server  middle  client   (medians of ${runs})`,
    );
    for (const item of measurements) {
      const cpu =
        item.path === 'sdk-direct' || item.path === 'in-process' ? { ...item.cpuMs, client: NaN } : item.cpuMs;
      console.log(
        `${item.path.padEnd(10)} ${Math.round(item.charactersPerSecond).toLocaleString('en').padStart(9)}` +
          `  ${item.firstTextMs.toFixed(1).padStart(7)} ms  ${String(item.parts).padStart(6)}` +
          `   ${[cpu.server, cpu.middle, cpu.client].map((value) => (Number.isNaN(value) ? '–' : value.toFixed(0)).padStart(21 - 14)).join(' ')}`,
      );
    }
    const headline =
      `stream: ${tokens} tokens, three busy processes each side; SDK through a relay ` +
      `${Math.round(rate('sdk')).toLocaleString('en')} chars/s, app over the web host ` +
      `${Math.round(rate('app')).toLocaleString('en')} chars/s; app/SDK = ${ratio.toFixed(2)}; CPU time of the ` +
      `three processes, SDK/app = ${cpuRatio.toFixed(2)} (two processes, reply stream in process / SDK: ` +
      `${inProcessRatio.toFixed(2)})`;
    console.log(headline);
    return { tokens, runs, measurements, ratio, inProcessRatio, cpuRatio, stopMilliseconds: stops, headline };
  } finally {
    reader.stop();
    remote.stop();
    client.close();
    await relay.close();
    await host.close();
    await services.dispose();
    await fake.close();
  }
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
interface RoleProcess<Setup> {
  setup: Setup;
  ask(line: string): Promise<string>;
  stop(): void;
}

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

/** The server or client process: announces itself on stdout, answers each line of its stdin, ends with stdin. */
async function runRole(setup: {
  role: 'server' | 'client';
  port?: number;
  token?: string;
  relayUrl?: string;
}): Promise<void> {
  const input = createInterface({ input: process.stdin });
  if (setup.role === 'server') {
    const server = await startFakeOpenAIServer({ script: () => ({ type: 'reply', text: fastReply }) });
    process.stdout.write(`${JSON.stringify({ baseUrl: server.baseUrl, port: new URL(server.baseUrl).port })}\n`);
    for await (const line of input) if (line === 'cpu') process.stdout.write(`${cpuMilliseconds()}\n`);
    await server.close();
    process.exit(0);
  }
  const client = connectApiClient({ port: setup.port ?? 0, token: setup.token ?? '' });
  const sdk = new OpenAI({ apiKey: 'none', baseURL: setup.relayUrl ?? '', maxRetries: 0 });
  process.stdout.write('{}\n');
  // `app`: a reply over the web host; `sdk`: the SDK through the relay; `api URL KEY`: the SDK against clemplay api.
  for await (const line of input) {
    const before = cpuMilliseconds();
    const [command, baseURL, apiKey] = line.split(' ');
    const sample =
      command === 'app'
        ? await readOverApi(client.api)
        : command === 'api' && baseURL !== undefined && apiKey !== undefined
          ? await readWithSdk(new OpenAI({ apiKey, baseURL, maxRetries: 0 }), 'fast')
          : await readWithSdk(sdk);
    process.stdout.write(`${JSON.stringify({ ...sample, clientCpuMs: cpuMilliseconds() - before })}\n`);
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
