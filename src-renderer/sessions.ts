import { api } from './api/client';
import { createSessionStore } from './session-store';

/** The app's one session store, over the app's API client. */
export const useSessionStore = createSessionStore(api);
