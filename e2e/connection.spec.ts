import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { startWebHost, type WebHost } from '../src-main/host/web-host';
import type { AppServices } from '../src-main/services';
import { createTestServices } from '../src-main/testing/services';

const rendererDir = join(import.meta.dirname, '..', 'out', 'renderer');

/**
 * The host runs in this process, so the test can stop it and start it again on the same port with the same token,
 * as the same `clemplay serve` process does when its listener comes back; no flag or variable of the real command
 * can choose a token.
 */
test.describe('the connection to the host', () => {
  let services: AppServices;
  let hosts: WebHost[] = [];
  const start = async (options: { port?: number; token?: string } = {}): Promise<WebHost> => {
    const host = await startWebHost({
      services,
      rendererDir,
      token: randomBytes(24).toString('base64url'),
      ...options,
    });
    hosts.push(host);
    return host;
  };
  test.beforeAll(async () => {
    services = await createTestServices();
  });
  test.afterEach(async () => {
    await Promise.all(hosts.map((host) => host.close().catch(() => undefined)));
    hosts = [];
  });
  test.afterAll(async () => {
    await services.dispose();
  });

  test('shows the banner when the host goes away and reconnects on its own when it is back', async ({ page }) => {
    const host = await start();
    await page.goto(host.url);
    const state = page.getByTestId('connection-state');
    await expect(state).toHaveAttribute('data-state', 'connected');
    await expect(page.getByTestId('connection-banner')).toHaveCount(0);
    await page.getByTestId('nav-playground').click();
    const query = page.getByTestId('playground-query');
    await expect(query.locator('.monaco-editor')).toBeVisible({ timeout: 20_000 });

    await host.close();
    await expect(state).toHaveAttribute('data-state', 'reconnecting');
    await expect(page.getByTestId('connection-banner')).toContainText('Reconnecting');

    await start({ port: host.port, token: host.token });
    await expect(state).toHaveAttribute('data-state', 'connected', { timeout: 15_000 });
    await expect(page.getByTestId('connection-banner')).toHaveCount(0);
    // The API works again over the new socket.
    await page.getByTestId('playground-resolve').click();
    await expect(page.getByTestId('playground-spec')).toContainText('"model_name": "gpt-4o-mini"');
  });

  test('after a restart with a new token, the page says the link expired, and so does a reload', async ({ page }) => {
    const host = await start();
    await page.goto(host.url);
    await expect(page.getByTestId('connection-state')).toHaveAttribute('data-state', 'connected');
    await host.close();
    await start({ port: host.port });
    await expect(page.getByTestId('connection-state')).toHaveAttribute('data-state', 'disconnected', {
      timeout: 15_000,
    });
    await expect(page.getByTestId('connection-banner')).toContainText('clemplay serve');

    await page.reload();
    await expect(page.getByTestId('link-expired')).toContainText('This clemplay link has expired');
    await expect(page.getByTestId('link-expired')).toContainText('clemplay serve');
  });
});
