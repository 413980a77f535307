import Editor from '@monaco-editor/react';
import { useRef } from 'react';
import './monaco-setup';
import { entryModelUri, specModelUri } from './monaco-setup';

/**
 * A spec field: JSON (with the registry schema's completions) when it starts with `{`, a plain model name otherwise.
 * `kind: 'entry'` edits a registry entry instead, where the schema requires `model_name` and `backend`.
 */
export function SpecEditor({
  value,
  onChange,
  onSubmit,
  testId,
  kind = 'query',
  height = 120,
}: {
  value: string;
  onChange: (value: string) => void;
  /** Ctrl+Enter / Cmd+Enter. */
  onSubmit: () => void;
  testId: string;
  kind?: 'query' | 'entry';
  /** Pixels; default 120. */
  height?: number;
}) {
  const json = kind === 'entry' || value.trimStart().startsWith('{');
  // The editor binds its keys once, on mount; the ref lets Ctrl+Enter run the latest handler with the latest text.
  const submit = useRef(onSubmit);
  submit.current = onSubmit;
  return (
    <div className="editor" data-testid={testId} data-value={value}>
      <Editor
        height={`${height}px`}
        path={kind === 'entry' ? entryModelUri : specModelUri}
        language={json ? 'json' : 'plaintext'}
        value={value}
        theme={window.matchMedia('(prefers-color-scheme: dark)').matches ? 'vs-dark' : 'vs'}
        options={{
          minimap: { enabled: false },
          lineNumbers: 'off',
          scrollBeyondLastLine: false,
          fontSize: 13,
          tabSize: 2,
          wordWrap: 'on',
          // A spec is short and often pasted or retyped whole: what is typed is what is kept, nothing added.
          autoClosingBrackets: 'never',
          autoClosingQuotes: 'never',
        }}
        onChange={(text) => onChange(text ?? '')}
        onMount={(editor, monaco) => {
          editor.addAction({
            id: 'clemplay.submit',
            label: 'Submit',
            keybindings: [monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter],
            run: () => submit.current(),
          });
        }}
      />
    </div>
  );
}
