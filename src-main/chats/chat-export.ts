import { parseQuery } from '../../src-shared/spec/parse-query.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src-shared/json.js';
import { isSecretFieldName, stripUrlCredentials } from '../../src-shared/secrets.js';
import { redactText } from '../backends/openai-shared.js';
import type { Chat, StoredChatMessage } from './chat-schema.js';

/** Removes user names and passwords from URLs (`http://user:pass@host` → `http://host`) and key-shaped text. */
function redactString(text: string): string {
  return redactText(stripUrlCredentials(text), []);
}

/** A copy of a spec without secret-named fields (at any depth), URL credentials or key-shaped strings. */
export function redactSpec(value: JsonValue): JsonValue {
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) return value.map((item) => redactSpec(item));
  if (isJsonObject(value)) {
    const copy: JsonObject = {};
    for (const [name, item] of Object.entries(value)) {
      if (!isSecretFieldName(name)) copy[name] = redactSpec(item);
    }
    return copy;
  }
  return value;
}

function redactSpecObject(value: JsonObject): JsonObject {
  const redacted = redactSpec(value);
  return isJsonObject(redacted) ? redacted : {};
}

/** The query as typed, redacted: JSON text is redacted as an object and written back compactly. */
function redactQuery(query: Chat['spec_query']): Chat['spec_query'] {
  if (typeof query !== 'string') return redactSpecObject(query);
  if (query.trim().startsWith('{')) {
    // The same reader as lookup, so clemcore's single-quoted specs are redacted field by field too.
    const parsed = parseQuery(query);
    if (parsed.ok) return JSON.stringify(redactSpecObject(parsed.query));
  }
  return redactString(query);
}

/** A copy of a chat fit to leave the app: the specs without secrets (the chat holds no keys by construction). */
export function redactChat(chat: Chat): Chat {
  const copy: Chat = { ...chat, spec_query: redactQuery(chat.spec_query) };
  if (chat.resolved_spec !== undefined) copy.resolved_spec = redactSpecObject(chat.resolved_spec);
  return copy;
}

/** The chat as pretty-printed JSON (the stored format, redacted), ending with a newline. */
export function exportChatJson(chat: Chat): string {
  return `${JSON.stringify(redactChat(chat), null, 2)}\n`;
}

function describeModel(chat: Chat): string {
  const resolved = chat.resolved_spec === undefined ? undefined : redactSpecObject(chat.resolved_spec);
  const query = redactQuery(chat.spec_query);
  const name =
    (typeof resolved?.model_name === 'string' && resolved.model_name) ||
    (typeof query === 'object' && typeof query.model_name === 'string' && query.model_name) ||
    (typeof query === 'string' ? query.trim() : JSON.stringify(query));
  const backend = typeof resolved?.backend === 'string' ? resolved.backend : undefined;
  return backend === undefined ? name : `${name} (${backend})`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function messageSection(message: StoredChatMessage): string {
  const marks = [...(message.partial ? ['partial'] : []), ...(message.error === undefined ? [] : ['error'])];
  const heading = `### ${message.role}${marks.length === 0 ? '' : ` (${marks.join(', ')})`}`;
  const parts = [heading, message.content.trim() === '' ? '_(no text)_' : message.content.trimEnd()];
  if (message.error !== undefined) {
    parts.push(`> **Error** (${message.error.code}): ${oneLine(message.error.message)}`);
  }
  return parts.join('\n\n');
}

/**
 * The chat as Markdown: the title, the model and the date, then the system prompt and each message as a
 * `### user` / `### assistant` section; partial and failed replies are marked in their heading.
 */
export function exportChatMarkdown(chat: Chat): string {
  const title = oneLine(chat.title) || 'Untitled chat';
  const sections = [`# ${title}`, `- Model: ${describeModel(chat)}\n- Date: ${chat.created_at}`];
  if (chat.system !== undefined && chat.system.trim() !== '') {
    sections.push(`### system\n\n${chat.system.trimEnd()}`);
  }
  for (const message of chat.messages) sections.push(messageSection(message));
  return `${sections.join('\n\n')}\n`;
}
