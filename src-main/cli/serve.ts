import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { startWebHost, type WebHost } from '../host/web-host.js';
import { startSavedModelServer } from '../openai-api/model-server.js';
import { createAppServices } from '../services.js';
import { collect, registryOption } from './options.js';

/** Parses a TCP port for commander; 0 means "any free port". */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new InvalidArgumentError('expected a port number from 0 to 65535.');
  return port;
}

/** Starts the web host, prints the one line people and scripts wait for, and stops on SIGINT/SIGTERM. */
export async function serve(port: number, registryFiles?: readonly string[]): Promise<WebHost> {
  const services = await createAppServices({ watch: true, ...(registryFiles ? { registryFiles } : {}) });
  let host: WebHost;
  try {
    host = await startWebHost({ services, port, rendererDir: join(services.appRoot, 'out', 'renderer') });
  } catch (error) {
    // The registry watchers would keep the process alive after the error.
    await services.dispose();
    throw error;
  }
  const stop = (): void => {
    void Promise.all([host.close(), services.dispose()]).then(() => process.exit(0));
  };
  // Handlers first: whoever reads the line below may signal at once, and an unhandled SIGTERM kills at once.
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await startSavedModelServer(services.modelServer, services.settings);
  process.stdout.write(`clemplay: serving at ${host.url}\n`);
  return host;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .option('-p, --port <port>', 'TCP port on 127.0.0.1 (0 picks a free one)', parsePort, 0)
    .option(registryOption.flags, registryOption.description, collect)
    .action(async (options: { port: number; registry?: string[] }) => {
      await serve(options.port, options.registry);
      // Keep the process alive until a signal stops the host.
      await new Promise<never>(() => undefined);
    });
}
