// Monaco from the app's own bundle: no CDN is ever contacted, and only the editor and JSON workers are bundled
// (the TypeScript worker alone would add ~12 MB).
import { loader } from '@monaco-editor/react';
import * as monaco from 'monaco-editor/editor';
// The JSON mode is normally imported on first use, and with it every editor contribution (suggest, hover, code
// lens, …). Contributions that arrive after the first editor was created register their services too late: the next
// editor fails with "SuggestController depends on UNKNOWN service ISuggestMemories", and completions never show.
// Importing it here registers everything before any editor exists.
import 'monaco-editor/languages/features/json/jsonMode';
import { jsonDefaults } from 'monaco-editor/languages/features/json/register';
import EditorWorker from 'monaco-editor/editor/editor.worker?worker';
import JsonWorker from 'monaco-editor/language/json/json.worker?worker';
import entrySchema from '../../registry/model_registry.entry.schema.json';

self.MonacoEnvironment = {
  getWorker: (_workerId: string, label: string) => (label === 'json' ? new JsonWorker() : new EditorWorker()),
};
loader.config({ monaco });

/** The model URI of the spec editor, which the spec schema applies to. */
export const specModelUri = 'inmemory://clemplay/spec.json';
/** The model URI of the registry entry editor, which the entry schema (model_name and backend required) applies to. */
export const entryModelUri = 'inmemory://clemplay/entry.json';

// The entry schema with the keys clemplay reads. A query is one spec, and unlike a registry entry it needs no key:
// with nothing required it gives completions and hover docs without flagging a partial spec. Schema problems are
// warnings: an entry with another backend or an unknown key still saves (and says what looks wrong).
jsonDefaults.setDiagnosticsOptions({
  validate: true,
  allowComments: false,
  schemaValidation: 'warning',
  schemas: [
    {
      uri: 'https://clemplay.local/spec.schema.json',
      fileMatch: [specModelUri],
      schema: { ...entrySchema, required: [] },
    },
    { uri: 'https://clemplay.local/entry.schema.json', fileMatch: [entryModelUri], schema: entrySchema },
  ],
});
