import { describeFailure } from './api/describe-error';

/** What a store keeps per followed item (a session, a game run): at least the last action's failure. */
export interface FollowedEntry {
  /** The last action's failure on this item, as `code: message` (cleared by the next success). */
  error: string | null;
}

/**
 * The per-item part of a store that follows things living in main (sessions, game runs): reading and patching an
 * item's entry, running an action whose failure stays on the item (once), and watching an item's events through one
 * shared subscription however many components watch it (the first subscribes, the last to leave unsubscribes).
 */
export function followedItems<Entry extends FollowedEntry>(options: {
  read(id: string): Entry | undefined;
  write(id: string, entry: Entry): void;
  empty(): Entry;
  /** Subscribes to an item's events (folding each into its entry). */
  subscribe(id: string): { unsubscribe(): void };
}) {
  const subscriptions = new Map<string, { watchers: number; unsubscribe(): void }>();
  const entry = (id: string): Entry => options.read(id) ?? options.empty();
  const patch = (id: string, change: Partial<Entry>): void => options.write(id, { ...entry(id), ...change });

  return {
    entry,
    patch,

    /** Runs one action on an item; its failure is kept on the item, success clears it. True when it succeeded. */
    async act(id: string, action: () => Promise<unknown>): Promise<boolean> {
      try {
        await action();
        if (entry(id).error !== null) patch(id, { error: null } as Partial<Entry>);
        return true;
      } catch (error) {
        patch(id, { error: describeFailure(error) } as Partial<Entry>);
        return false;
      }
    },

    /** Follows an item until the returned function is called. */
    watch(id: string): () => void {
      const existing = subscriptions.get(id);
      if (existing !== undefined) {
        existing.watchers += 1;
      } else {
        const subscription = options.subscribe(id);
        subscriptions.set(id, { watchers: 1, unsubscribe: () => subscription.unsubscribe() });
      }
      let unwatched = false;
      return () => {
        if (unwatched) return;
        unwatched = true;
        const current = subscriptions.get(id);
        if (current === undefined) return;
        current.watchers -= 1;
        if (current.watchers > 0) return;
        subscriptions.delete(id);
        current.unsubscribe();
      };
    },

    /** Stops following an item at once (it was deleted). */
    forget(id: string): void {
      subscriptions.get(id)?.unsubscribe();
      subscriptions.delete(id);
    },
  };
}
