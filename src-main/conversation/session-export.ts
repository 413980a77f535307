import { parseQuery } from '../../src-shared/spec/parse-query.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src-shared/json.js';
import { isSecretFieldName, stripUrlCredentials } from '../../src-shared/secrets.js';
import { redactText } from '../backends/openai-shared.js';
import { currentVersion, type TranscriptMessage } from '../../src-shared/conversation/transcript.js';
import type { ParticipantRecord, SessionRecord } from './session-schema.js';

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
export function redactQuery(query: ParticipantRecord['query']): ParticipantRecord['query'] {
  if (typeof query !== 'string') return redactSpecObject(query);
  if (query.trim().startsWith('{')) {
    // The same reader as lookup, so clemcore's single-quoted specs are redacted field by field too.
    const parsed = parseQuery(query);
    if (parsed.ok) return JSON.stringify(redactSpecObject(parsed.query));
  }
  return redactString(query);
}

/** A value with user names and passwords removed from every URL in its strings (`http://user:pass@host` → `http://host`). */
function stripCredentials(value: JsonValue): JsonValue {
  if (typeof value === 'string') return stripUrlCredentials(value);
  if (Array.isArray(value)) return value.map(stripCredentials);
  if (isJsonObject(value))
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, stripCredentials(item)]));
  return value;
}

/**
 * A spec as clients are shown it: no URL credentials (the registry already shows secret-named fields as
 * `[redacted]`, which stays, so a person sees the field is there).
 */
export function clientSpec(spec: JsonObject): JsonObject {
  const stripped = stripCredentials(spec);
  return isJsonObject(stripped) ? stripped : {};
}

/** A message as clients are shown it: its specs through {@link clientSpec}. */
export function clientMessage(message: TranscriptMessage): TranscriptMessage {
  return {
    ...message,
    versions: message.versions.map((version) => {
      const copy = { ...version };
      if (version.spec !== undefined) copy.spec = clientSpec(version.spec);
      if (version.followers !== undefined) copy.followers = version.followers.map(clientMessage);
      return copy;
    }),
  };
}

/** A message with secrets and URL credentials stripped from its specs and errors (for files and exports). */
function redactMessage(message: TranscriptMessage): TranscriptMessage {
  return {
    ...message,
    versions: message.versions.map((version) => {
      const copy = { ...version };
      if (version.spec !== undefined) copy.spec = redactSpecObject(version.spec);
      if (version.error !== undefined) copy.error = { ...version.error, message: redactString(version.error.message) };
      if (version.followers !== undefined) copy.followers = version.followers.map(redactMessage);
      return copy;
    }),
  };
}

/** A copy of a session fit to leave the app (or to be written to disk): the specs without secrets. */
export function redactSession(session: SessionRecord): SessionRecord {
  return {
    ...session,
    participants: session.participants.map((participant) => {
      const copy: ParticipantRecord = { ...participant, query: redactQuery(participant.query) };
      if (participant.spec !== undefined) copy.spec = redactSpecObject(participant.spec);
      return copy;
    }),
    messages: session.messages.map(redactMessage),
  };
}

/** The session as pretty-printed JSON (the stored format, redacted), ending with a newline. */
export function exportSessionJson(session: SessionRecord): string {
  return `${JSON.stringify(redactSession(session), null, 2)}\n`;
}

/** A participant's name for people: the resolved model name (and backend), else the query as typed. */
export function describeParticipant(participant: ParticipantRecord): string {
  const resolved = participant.spec === undefined ? undefined : redactSpecObject(participant.spec);
  const query = redactQuery(participant.query);
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

function speakerName(session: SessionRecord, speaker: string): string {
  const participant = session.participants.find((candidate) => candidate.id === speaker);
  return participant === undefined ? speaker : participant.label;
}

function messageSection(session: SessionRecord, message: TranscriptMessage): string {
  const version = currentVersion(message);
  const marks = [
    ...(version.status === 'stopped' ? ['stopped'] : []),
    ...(version.status === 'error' ? ['error'] : []),
    ...(message.versions.length > 1 ? [`version ${message.current + 1} of ${message.versions.length}`] : []),
  ];
  const heading = `### ${speakerName(session, message.speaker)}${marks.length === 0 ? '' : ` (${marks.join(', ')})`}`;
  const parts = [heading];
  if (version.reasoning.trim() !== '') {
    parts.push(`<details><summary>Reasoning</summary>\n\n${version.reasoning.trimEnd()}\n\n</details>`);
  }
  parts.push(version.text.trim() === '' ? '_(no text)_' : version.text.trimEnd());
  if (version.error !== undefined) {
    parts.push(`> **Error** (${version.error.code}): ${oneLine(redactString(version.error.message))}`);
  }
  return parts.join('\n\n');
}

/**
 * The session as Markdown: the title, each participant (its model and system prompt) and the date, then each message
 * of the transcript under its speaker's name; stopped and failed replies are marked in their heading.
 */
export function exportSessionMarkdown(session: SessionRecord): string {
  const title = oneLine(session.title) || 'Untitled conversation';
  const people = session.participants.map((participant) => {
    const system = participant.system?.trim() ? `\n  - System prompt: ${oneLine(participant.system)}` : '';
    return `- ${participant.label}: ${describeParticipant(participant)}${system}`;
  });
  const sections = [`# ${title}`, `${people.join('\n')}\n- Date: ${session.created_at}`];
  for (const message of session.messages) sections.push(messageSection(session, message));
  return `${sections.join('\n\n')}\n`;
}
