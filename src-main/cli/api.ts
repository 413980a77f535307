import type { Command } from 'commander';
import { loopbackAddress } from '../host/listen.js';
import { apiKeyEnvironmentVariable, type ModelServerStatus } from '../openai-api/model-server.js';
import { defaultApiPort } from '../../src-shared/model-server.js';
import type { ServedRequest } from '../openai-api/request-log.js';
import type { AppServices } from '../services.js';
import { collect, registryOption, servicesForCommand } from './options.js';
import { parsePort } from './serve.js';

/** Options of `clemplay api`. */
export interface ApiCommandOptions {
  port: number;
  apiKey?: string;
  host?: string;
  registry?: string[];
}

/** One line on stderr per finished request: status, model, client, tokens and rate; never a key or the messages. */
function describeRequest(request: ServedRequest): string {
  const status = request.http_status === null ? request.status : String(request.http_status);
  const tokens = request.output_tokens === null ? '' : `, ${request.output_tokens} tokens`;
  const rate = request.tokens_per_second === null ? '' : `, ${request.tokens_per_second.toFixed(1)} tokens/s`;
  const outcome =
    request.status === 'error'
      ? ` — ${request.error ?? 'failed'}`
      : request.status === 'cancelled'
        ? ' (cancelled)'
        : '';
  return `clemplay: ${status} ${request.model} from ${request.client}${tokens}${rate}${outcome}\n`;
}

/** Prints each request once it has finished. */
function logFinishedRequests(services: AppServices): void {
  const printed = new Set<string>();
  services.modelServer.onChange(() => {
    for (const request of services.modelServer.log.list().reverse()) {
      if (printed.has(request.id) || request.ended_at === null) continue;
      printed.add(request.id);
      process.stderr.write(describeRequest(request));
    }
    // Only ids still listed can come round again.
    const listed = new Set(services.modelServer.log.list().map((request) => request.id));
    for (const id of printed) if (!listed.has(id)) printed.delete(id);
  });
}

/** The line after the URL: the key itself when it is the stored one (clients need it), else where it came from. */
function keyLine(status: ModelServerStatus, key: string): string {
  if (status.key_source === 'option') return 'clemplay: API key from --api-key\n';
  if (status.key_source === 'environment') return `clemplay: API key from ${apiKeyEnvironmentVariable}\n`;
  return `clemplay: API key ${key}\n`;
}

/** Starts the API server, prints the lines people and scripts wait for, and stops on SIGINT/SIGTERM. */
export async function serveApi(options: ApiCommandOptions): Promise<AppServices> {
  const services = await servicesForCommand(options.registry, { watch: true });
  let status: ModelServerStatus;
  try {
    status = await services.modelServer.start({
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    });
  } catch (error) {
    // The registry watchers would keep the process alive after the error.
    await services.dispose();
    throw error;
  }
  const stop = (): void => {
    void services.dispose().then(() => process.exit(0));
  };
  // Handlers first: whoever reads the lines below may signal at once.
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (status.host !== loopbackAddress) {
    process.stderr.write(
      `warning: serving on ${status.host}, not only on this machine: anyone who can reach it and has the key can use ` +
        'your models and the quota of your upstream API keys.\n',
    );
  }
  logFinishedRequests(services);
  process.stdout.write(`clemplay: OpenAI-compatible API at ${status.url}\n`);
  process.stdout.write(keyLine(status, services.modelServer.revealKey()));
  return services;
}

export function registerApiCommand(program: Command): void {
  program
    .command('api')
    .option('-p, --port <port>', 'TCP port (0 picks a free one)', parsePort, defaultApiPort)
    .option(
      '--api-key <key>',
      `the key clients must send (default: ${apiKeyEnvironmentVariable}, else one generated once and stored)`,
    )
    .option('--host <address>', 'bind this address instead of 127.0.0.1 (exposes the API to the network)')
    .option(registryOption.flags, registryOption.description, collect)
    .action(async (options: ApiCommandOptions) => {
      await serveApi(options);
      // Keep the process alive until a signal stops the server.
      await new Promise<never>(() => undefined);
    });
}
