import { expect, type Page } from '@playwright/test';

/** Replaces the text of a Monaco editor as a person would: select all, delete, then type the new text. */
export async function typeInEditor(page: Page, testId: string, text: string): Promise<void> {
  const editor = page.getByTestId(testId);
  await editor.locator('.monaco-editor').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  if (text !== '') await page.keyboard.insertText(text);
  await expect(editor).toHaveAttribute('data-value', text);
}
