import { api } from './api/client';
import { createModelServerStore } from './model-server-store';

/** The app's one store for the API server, over the app's API client. */
export const useModelServerStore = createModelServerStore(api);
