import { describe, expect, it } from 'vitest';
import { effectiveTheme, parseThemePreference } from './theme';

describe('theme', () => {
  it('follows the system unless the user picked light or dark', () => {
    expect(effectiveTheme('system', true)).toBe('dark');
    expect(effectiveTheme('system', false)).toBe('light');
    expect(effectiveTheme('light', true)).toBe('light');
    expect(effectiveTheme('dark', false)).toBe('dark');
  });

  it('reads anything unknown in storage as system', () => {
    expect(parseThemePreference(null)).toBe('system');
    expect(parseThemePreference('purple')).toBe('system');
    expect(parseThemePreference('dark')).toBe('dark');
  });
});
