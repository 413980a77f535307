import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWebHost, type WebHost } from '../host/web-host.js';
import type { AppServices } from '../services.js';
import { connectApiClient, type WebSocketApiClient } from './api-client.js';
import { createTestServices } from './services.js';

/** Test services, the web host serving them, and an API client on its WebSocket, as the renderer talks to main. */
export interface HostedServices {
  services: AppServices;
  host: WebHost;
  client: WebSocketApiClient;
  /** Closes the client, the host and the services, in that order. */
  close(): Promise<void>;
}

/** {@link HostedServices} over one registry file holding `entries` (in a fresh folder named after `name`). */
export async function startHostedServices(name: string, entries: readonly unknown[]): Promise<HostedServices> {
  const folder = mkdtempSync(join(tmpdir(), `clemplay-${name}-`));
  const registry = join(folder, 'model_registry.json');
  writeFileSync(registry, JSON.stringify(entries));
  const services = await createTestServices({ registryFiles: [registry] });
  const host = await startWebHost({ services, rendererDir: folder });
  const client = connectApiClient(host);
  return {
    services,
    host,
    client,
    async close() {
      client.close();
      await host.close();
      await services.dispose();
    },
  };
}

/** Resolves when `done()` holds: at once, or after the first change of `store` (a zustand store) that makes it hold. */
export function untilState(store: { subscribe(listener: () => void): () => void }, done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (done()) return resolve();
    const stop = store.subscribe(() => {
      if (!done()) return;
      stop();
      resolve();
    });
  });
}
