import { EmptyState } from '../components/states';
import { modelFromHash } from '../store';

/** A page that is not built yet; it shows the model the Playground sent, so the link is visibly kept. */
export function PlaceholderPage({ title }: { title: string }) {
  const model = modelFromHash();
  return (
    <section className="stack">
      <h1>{title}</h1>
      <EmptyState title="Not built yet" testId="placeholder">
        This page comes in a later version.
        {model !== null && (
          <>
            {' '}
            The Playground sent: <code data-testid="placeholder-model">{model}</code>
          </>
        )}
      </EmptyState>
    </section>
  );
}
