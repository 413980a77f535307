import Editor from '@monaco-editor/react';
import './monaco-setup';
import { specModelUri } from './monaco-setup';

/** A spec field: JSON (with the registry schema's completions) when it starts with `{`, a plain model name otherwise. */
export function SpecEditor({
  value,
  onChange,
  onSubmit,
  testId,
}: {
  value: string;
  onChange: (value: string) => void;
  /** Ctrl+Enter / Cmd+Enter. */
  onSubmit: () => void;
  testId: string;
}) {
  const json = value.trimStart().startsWith('{');
  return (
    <div className="editor" data-testid={testId} data-value={value}>
      <Editor
        height="120px"
        path={specModelUri}
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
          editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, onSubmit);
        }}
      />
    </div>
  );
}
