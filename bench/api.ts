/**
 * Is the OpenAI-compatible API a bottleneck? The same fast OpenAI-style stream (a fake server in its own process, as
 * in bench/stream) is read two ways in the same run, by a client in a process of its own: through the app's chat
 * stream over the web host (a session over the WebSocket, as a browser reads it — the baseline), and through
 * clemplay's OpenAI-compatible API with the openai SDK (resolve, backend, SSE chunks over HTTP). The figure is the
 * ratio of characters per second delivered: API / web host.
 *
 * Run: npx tsx bench/api.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startWebHost } from '../src-main/host/web-host.js';
import { createTestServices } from '../src-main/testing/services.js';
import { fastReply, median, spawnRole, type Sample } from './stream.js';

/** What `npm run bench` prints for this benchmark. */
export interface ApiBenchResult {
  /** Median characters per second: the chat stream over the web host, and the OpenAI-compatible API. */
  webHostCharactersPerSecond: number;
  apiCharactersPerSecond: number;
  /** API ÷ web host. */
  ratio: number;
  headline: string;
}

const runs = 15;
const apiKey = 'clemplay-bench-api-key';

export async function main(): Promise<ApiBenchResult> {
  const remote = await spawnRole<{ baseUrl: string }>('server', {});
  const folder = mkdtempSync(join(tmpdir(), 'clemplay-bench-api-'));
  const registry = join(folder, 'model_registry.json');
  writeFileSync(
    registry,
    JSON.stringify([
      { model_name: 'fast', backend: 'openai_compatible', model_id: 'm', base_url: remote.setup.baseUrl },
    ]),
  );
  const services = await createTestServices({ registryFiles: [registry] });
  const host = await startWebHost({ services, rendererDir: folder });
  const server = await services.modelServer.start({ port: 0, apiKey });
  const client = await spawnRole<Record<string, never>>('client', { port: host.port, token: host.token });
  const viaWebHost = async (): Promise<Sample> => JSON.parse(await client.ask('app')) as Sample;
  const viaApi = async (): Promise<Sample> => JSON.parse(await client.ask(`api ${server.url} ${apiKey}`)) as Sample;

  try {
    for (let warmUp = 0; warmUp < 3; warmUp++) {
      await viaWebHost();
      await viaApi();
    }
    const webHost: Sample[] = [];
    const api: Sample[] = [];
    for (let run = 0; run < runs; run++) {
      webHost.push(await viaWebHost());
      api.push(await viaApi());
    }
    if ([...webHost, ...api].some((sample) => sample.characters !== fastReply.length)) throw new Error('text was lost');
    const rate = (samples: Sample[]) => median(samples.map((sample) => sample.characters / sample.seconds));
    const first = (samples: Sample[]) => median(samples.map((sample) => sample.firstMs));
    const parts = (samples: Sample[]) => median(samples.map((sample) => sample.parts));
    const webHostRate = rate(webHost);
    const apiRate = rate(api);
    for (const [name, samples] of [
      ['web host', webHost],
      ['API', api],
    ] as const) {
      console.log(
        `${name.padEnd(9)} ${Math.round(rate(samples)).toLocaleString('en').padStart(12)} chars/s   first text ` +
          `${first(samples).toFixed(1)} ms   ${parts(samples)} parts (medians of ${runs})`,
      );
    }
    const ratio = apiRate / webHostRate;
    const headline =
      `OpenAI-compatible API ${Math.round(apiRate).toLocaleString('en')} chars/s, chat over the web host ` +
      `${Math.round(webHostRate).toLocaleString('en')} chars/s; API/web host = ${ratio.toFixed(2)}`;
    console.log(headline);
    return { webHostCharactersPerSecond: webHostRate, apiCharactersPerSecond: apiRate, ratio, headline };
  } finally {
    client.stop();
    remote.stop();
    await host.close();
    await services.dispose();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
