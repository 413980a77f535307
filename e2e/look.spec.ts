import { expect, test, type Page } from '@playwright/test';
import { serveApp, type ServedApp } from './web-host';

/** WCAG 2 contrast of two computed CSS colours (`rgb(…)`), measured in the page. */
async function contrast(page: Page, testId: string, against: 'self' | 'body' | 'nav' = 'self'): Promise<number> {
  return page
    .getByTestId(testId)
    .first()
    .evaluate((element, backgroundOf) => {
      const channels = (color: string) => (color.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
      const luminance = (color: string) => {
        const [red = 0, green = 0, blue = 0] = channels(color).map((value) => {
          const unit = value / 255;
          return unit <= 0.03928 ? unit / 12.92 : ((unit + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue;
      };
      const page = element.ownerDocument;
      const style = (target: typeof element) => page.defaultView!.getComputedStyle(target);
      const holder =
        backgroundOf === 'self' ? element : backgroundOf === 'nav' ? page.querySelector('nav')! : page.body;
      const foreground = luminance(style(element).color);
      const background = luminance(style(holder).backgroundColor);
      const [light, dark] = foreground > background ? [foreground, background] : [background, foreground];
      return (light + 0.05) / (dark + 0.05);
    }, against);
}

test.describe('one look in Chromium', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    app = await serveApp();
  });
  test.afterAll(async () => {
    await app.stop();
  });

  test('the theme switch sets light or dark, kept across a reload; text and the active nav item meet WCAG AA', async ({
    page,
  }) => {
    await page.goto(app.url);
    await page.getByTestId('nav-settings').click();
    for (const theme of ['light', 'dark'] as const) {
      await page.getByTestId(`theme-${theme}`).check({ force: true });
      await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
      expect(await contrast(page, 'nav-settings'), `${theme}: active nav item`).toBeGreaterThanOrEqual(4.5);
      // Under the mouse too (a general button hover rule once painted over it).
      await page.getByTestId('nav-settings').hover();
      expect(await contrast(page, 'nav-settings'), `${theme}: active nav item, hovered`).toBeGreaterThanOrEqual(4.5);
      await page.mouse.move(0, 0);
      expect(await contrast(page, 'nav-registry', 'nav'), `${theme}: nav item`).toBeGreaterThanOrEqual(4.5);
      expect(await contrast(page, 'connection-state', 'nav'), `${theme}: connection state`).toBeGreaterThanOrEqual(4.5);
      expect(await contrast(page, 'app-info', 'body'), `${theme}: page text`).toBeGreaterThanOrEqual(4.5);
      await page
        .locator('.muted')
        .first()
        .evaluate((element) => element.setAttribute('data-testid', 'some-muted'));
      expect(await contrast(page, 'some-muted', 'body'), `${theme}: muted text`).toBeGreaterThanOrEqual(4.5);
    }
    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await page.getByTestId('nav-settings').click();
    await expect(page.getByTestId('theme-dark')).toBeChecked();
    await page.getByTestId('theme-system').check({ force: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  });
});
