import Editor from '@monaco-editor/react';
import { useRef } from 'react';
import { useThemeStore } from '../theme-store';
import { entryModelUri, specModelUri } from './monaco-setup';
import type { SpecEditorProps } from './SpecEditor';

/** The Monaco editor behind {@link SpecEditorProps}; loaded lazily by SpecEditor. */
export default function MonacoSpecEditor({
  value,
  onChange,
  onSubmit,
  testId,
  kind = 'query',
  height = 120,
}: SpecEditorProps) {
  const theme = useThemeStore((state) => state.theme);
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
        theme={theme === 'dark' ? 'vs-dark' : 'vs'}
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
          // Suggestions and hovers float above the page, not clipped by the editor's small box.
          fixedOverflowWidgets: true,
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
