/** What the user picked in Settings: follow the system, or always light or dark. Default `system`. */
export type ThemePreference = 'system' | 'light' | 'dark';

/** The theme in effect. */
export type Theme = 'light' | 'dark';

/** The localStorage key of the preference (a renderer setting: it only changes how this window looks). */
export const themeStorageKey = 'clemplay.theme';

/** The preference read back from storage; anything unknown is `system`. */
export function parseThemePreference(stored: string | null): ThemePreference {
  return stored === 'light' || stored === 'dark' ? stored : 'system';
}

/** The theme a preference gives when the system prefers dark (`systemDark`) or not. */
export function effectiveTheme(preference: ThemePreference, systemDark: boolean): Theme {
  if (preference === 'system') return systemDark ? 'dark' : 'light';
  return preference;
}
