import { useCallback, useEffect, useState } from 'react';
import { describeError } from './api/describe-error';

/**
 * A list the page loads from the API and loads again after each action on it (set a key, trust a server): the
 * items, the last failure's message, and `run` for an action.
 */
export function useApiList<Item>(load: () => Promise<Item[]>) {
  const [items, setItems] = useState<Item[]>([]);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(
    () => load().then(setItems, (cause: unknown) => setError(describeError(cause).message)),
    // The loader is a fixed API call of the component that uses this: load once per mount.
    [],
  );
  useEffect(() => {
    void refresh();
  }, [refresh]);
  /** Runs an action; its failure is shown, and the list is loaded again either way. */
  const run = async (action: () => Promise<unknown>): Promise<void> => {
    setError(null);
    try {
      await action();
    } catch (cause) {
      setError(describeError(cause).message);
    }
    await refresh();
  };
  return { items, error, run };
}
