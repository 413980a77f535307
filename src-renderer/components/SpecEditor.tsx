import { lazy, Suspense } from 'react';

/** What a spec editor shows and reports; see {@link SpecEditor}. */
export interface SpecEditorProps {
  value: string;
  onChange: (value: string) => void;
  /** Ctrl+Enter / Cmd+Enter. */
  onSubmit: () => void;
  testId: string;
  /** `entry` edits a registry entry (the schema requires `model_name` and `backend`); default `query`. */
  kind?: 'query' | 'entry';
  /** Pixels; default 120. */
  height?: number;
}

// Monaco is most of the app's code: it loads when the first editor opens, not with the first page.
const MonacoSpecEditor = lazy(() => import('./MonacoSpecEditor'));

/**
 * A spec field: JSON (with the registry schema's completions and hover docs) when it starts with `{`, a plain model
 * name otherwise. Shows a placeholder of the same size while the editor loads.
 */
export function SpecEditor(props: SpecEditorProps) {
  const height = props.height ?? 120;
  return (
    <Suspense
      fallback={
        <div
          className="editor editor-loading skeleton"
          style={{ height }}
          data-testid={props.testId}
          data-value={props.value}
          aria-busy="true"
        >
          <span className="visually-hidden">Loading the editor…</span>
        </div>
      }
    >
      <MonacoSpecEditor {...props} height={height} />
    </Suspense>
  );
}
