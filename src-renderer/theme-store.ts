import { create } from 'zustand';
import { effectiveTheme, parseThemePreference, themeStorageKey, type Theme, type ThemePreference } from './theme';

interface ThemeState {
  preference: ThemePreference;
  theme: Theme;
  setPreference(preference: ThemePreference): void;
}

const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

function readPreference(): ThemePreference {
  try {
    return parseThemePreference(window.localStorage.getItem(themeStorageKey));
  } catch {
    // Storage can be unavailable (a locked-down browser profile): the system's theme is a fine default.
    return 'system';
  }
}

function apply(theme: Theme): void {
  document.documentElement.dataset['theme'] = theme;
  document.documentElement.style.colorScheme = theme;
}

const initial = readPreference();

/** The theme: the stylesheet reads `data-theme` on <html>; Monaco reads `theme`. */
export const useThemeStore = create<ThemeState>((set) => ({
  preference: initial,
  theme: effectiveTheme(initial, darkQuery.matches),
  setPreference(preference) {
    try {
      window.localStorage.setItem(themeStorageKey, preference);
    } catch {
      // Not saved across reloads, but still applied now.
    }
    const theme = effectiveTheme(preference, darkQuery.matches);
    apply(theme);
    set({ preference, theme });
  },
}));

apply(useThemeStore.getState().theme);
darkQuery.addEventListener('change', (event) => {
  const theme = effectiveTheme(useThemeStore.getState().preference, event.matches);
  apply(theme);
  useThemeStore.setState({ theme });
});
