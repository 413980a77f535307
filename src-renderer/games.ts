import { api } from './api/client';
import { createGamesStore } from './games-store';

/** The app's game runs, over the app's API client. */
export const useGamesStore = createGamesStore(api);
