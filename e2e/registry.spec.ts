import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { typeInEditor } from './monaco';
import { serveApp, type ServedApp } from './web-host';

const officialNames = (
  JSON.parse(readFileSync(join(import.meta.dirname, '..', 'registry', 'model_registry.json'), 'utf8')) as Array<{
    model_name: string;
  }>
).map((entry) => entry.model_name);

test.describe('the registry editor in Chromium', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    app = await serveApp();
  });
  test.afterAll(async () => {
    await app.stop();
  });

  test('keeps unsaved edits, marks them, asks before deleting, warns about odd entries', async ({ page }) => {
    await page.setViewportSize({ width: 1400, height: 700 });
    await page.goto(app.url);
    const rows = page.getByTestId('registry-row');
    await expect(rows).toHaveCount(officialNames.length);

    // An entry far down the list: its editor is in view once it opens.
    await rows.last().click();
    await expect(page.getByTestId('registry-editor')).toBeInViewport();

    // A new entry with an unknown backend and a wrong type saves, and says what looks wrong.
    await page.getByTestId('registry-new').click();
    const odd = '{"model_name": "odd", "backend": "anthropic", "temperature": "hot"}';
    await typeInEditor(page, 'registry-entry-editor', odd);
    await expect(page.getByTestId('registry-dirty')).toBeVisible();
    await page.getByTestId('registry-save').click();
    await expect(page.getByTestId('registry-notice')).toHaveText('Saved to your registry.');
    await expect(page.getByTestId('registry-warnings')).toContainText('backend "anthropic"');
    await expect(page.getByTestId('registry-warnings')).toContainText('temperature');
    await expect(page.getByTestId('registry-dirty')).toHaveCount(0);

    // Places are "source #i": the user's first entry and the official first entry do not both read "#0".
    await expect(rows.first().getByTestId('registry-place')).toHaveText('your registry #0');
    await expect(rows.nth(1).getByTestId('registry-place')).toHaveText('official #0');

    // Unsaved edits survive a click on another row: the page asks, and Cancel keeps them.
    const edited = '{"model_name": "odd", "backend": "openai_compatible"}';
    await typeInEditor(page, 'registry-entry-editor', edited);
    await rows.nth(3).click();
    await expect(page.getByTestId('registry-discard')).toBeVisible();
    await page.getByTestId('registry-discard-cancel').click();
    await expect(page.getByTestId('registry-entry-editor')).toHaveAttribute('data-value', edited);
    await expect(page.getByTestId('registry-dirty')).toBeVisible();
    // Discarding opens the other entry.
    await rows.nth(3).click();
    await page.getByTestId('registry-discard-confirm').click();
    await expect(page.getByTestId('registry-editor')).toContainText('official #2');

    // Delete asks first; Cancel keeps the entry.
    await rows.first().click();
    await page.getByTestId('registry-delete').click();
    await page.getByTestId('registry-delete-confirm-cancel').click();
    await expect(rows).toHaveCount(officialNames.length + 1);
    await page.getByTestId('registry-delete').click();
    await page.getByTestId('registry-delete-confirm-confirm').click();
    await expect(rows).toHaveCount(officialNames.length);
    await expect(page.getByTestId('registry-notice')).toContainText('.bak');
  });

  test('marks an overridden official entry and is usable from the keyboard', async ({ page }) => {
    await page.goto(app.url);
    const rows = page.getByTestId('registry-row');
    const official = rows.filter({ hasText: 'gpt-4o-mini' });
    await official.click();
    await expect(page.getByTestId('registry-move-up')).toHaveCount(0);
    await page.getByTestId('registry-save').click();
    await expect(page.getByTestId('registry-notice')).toHaveText('Saved as an override at the top of your registry.');
    await expect(rows.first().getByTestId('registry-place')).toHaveText('your registry #0');
    await expect(rows.first().getByTestId('registry-model-name')).toHaveText('gpt-4o-mini');
    await expect(
      rows.filter({ has: page.getByTestId('registry-overridden') }).getByTestId('registry-overridden'),
    ).toHaveText('overridden by your registry #0');
    // The override is the first entry of its file: Move up is off, not an error.
    await expect(page.getByTestId('registry-move-up')).toBeDisabled();

    // Tab reaches the rows; arrows move between them; Enter opens one.
    await rows.first().focus();
    await page.keyboard.press('ArrowDown');
    await expect(rows.nth(1)).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('registry-editor')).toContainText('official #0');
  });
});
