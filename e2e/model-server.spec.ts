import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import OpenAI from 'openai';
import { serveApp, type ServedApp } from './web-host';

// "Serve models to other apps" in Settings, in Chromium through the web host, with the openai SDK as the other app.
test.describe('Serve models to other apps', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    const folder = mkdtempSync(join(tmpdir(), 'clemplay-e2e-model-server-'));
    const registry = join(folder, 'model_registry.json');
    writeFileSync(
      registry,
      JSON.stringify([{ model_name: 'echo', backend: 'programmatic', responses: ['served to you'] }]),
    );
    app = await serveApp(['--registry', registry]);
  });
  test.afterAll(async () => {
    await app.stop();
  });

  test('switches the server on, shows its URL and masked key, copies the key, lists requests, switches off', async ({
    page,
    context,
  }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(app.url).origin });
    await page.goto(app.url);
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('model-server-port').fill('0');
    // The switch follows main's state, so it turns on once the server runs, not at the click.
    await page.getByTestId('model-server-switch').click();
    await expect(page.getByTestId('model-server-switch')).toBeChecked();
    await expect(page.getByTestId('model-server-url')).toHaveText(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const url = (await page.getByTestId('model-server-url').textContent())!;
    const hint = (await page.getByTestId('model-server-key').textContent())!;
    expect(hint).toMatch(/^….{4}$/);
    // The key reaches the page only when Copy is pressed.
    expect(await page.content()).not.toMatch(/clemplay-[\w-]{32}/);

    await page.getByTestId('model-server-copy').click();
    await expect(page.getByTestId('model-server-copy')).toHaveText('Copied');
    const key = String(await page.evaluate('navigator.clipboard.readText()'));
    expect(key.endsWith(hint.slice(1))).toBe(true);

    const client = new OpenAI({ apiKey: key, baseURL: url, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]!.message.content).toBe('served to you');
    const row = page.getByTestId('model-server-request').first();
    await expect(row.getByTestId('model-server-request-status')).toHaveText('done');
    await expect(row).toContainText('echo');
    await expect(row).toContainText('OpenAI/JS');

    await page.getByTestId('model-server-switch').click();
    await expect(page.getByTestId('model-server-url')).toHaveCount(0);
    await expect(page.getByTestId('model-server-switch')).not.toBeChecked();
    await expect(client.models.list()).rejects.toThrow();
  });
});
