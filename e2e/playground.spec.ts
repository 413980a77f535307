import { expect, test } from '@playwright/test';
import { typeInEditor } from './monaco';
import { serveApp, type ServedApp } from './web-host';

test.describe('the Playground in Chromium', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    app = await serveApp();
  });
  test.afterAll(async () => {
    await app.stop();
  });

  test('a typo says "did you mean", an empty query a friendly hint, and a spec opens Chat, Pair and Games', async ({
    page,
  }) => {
    await page.goto(app.url);
    await page.getByTestId('nav-playground').click();
    await expect(page.getByTestId('playground-empty')).toBeVisible();

    await typeInEditor(page, 'playground-query', 'gpt-4o-mnii');
    await page.getByTestId('playground-resolve').click();
    await expect(page.getByTestId('playground-error')).toContainText('did you mean "gpt-4o-mini"?');
    await expect(page.getByTestId('playground-result')).toHaveCount(0);
    await page.getByTestId('playground-suggestion').getByRole('button', { name: 'gpt-4o-mini' }).click();
    await expect(page.getByTestId('playground-spec')).toContainText('"model_id": "gpt-4o-mini"');
    await expect(page.getByTestId('playground-source')).toHaveText(/^From official #\d+ /);

    await typeInEditor(page, 'playground-query', '');
    await page.getByTestId('playground-resolve').click();
    await expect(page.getByTestId('playground-hint')).toContainText('Type a model name');
    await expect(page.getByTestId('playground-error')).toHaveCount(0);

    const spec = '{"model_name": "gpt-4o", "temperature": 0}';
    await typeInEditor(page, 'playground-query', spec);
    await page.getByTestId('playground-resolve').click();
    for (const [action, pageId] of [
      ['playground-chat', 'chat'],
      ['playground-pair', 'pair'],
      ['playground-games', 'games'],
    ] as const) {
      await page.getByTestId(action).click();
      await expect(page.getByTestId(`page-${pageId}`)).toBeVisible();
      const hash = new URL(page.url()).hash;
      expect(hash).toBe(`#/${pageId}?model=${encodeURIComponent(spec)}`);
      await page.getByTestId('nav-playground').click();
      // What was typed is still there.
      await expect(page.getByTestId('playground-query')).toHaveAttribute('data-value', spec);
      await page.getByTestId('playground-resolve').click();
    }
  });
});
