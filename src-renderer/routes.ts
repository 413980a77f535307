/**
 * Pages are addressed by the URL hash, `#/<page>`, optionally with a query string: `#/chat?model=gpt-4o-mini`.
 * The Playground's "Chat with this", "Pair with…" and "Play a game" send a model this way; the page reads it with
 * {@link hashParameter}.
 */

/** A page's hash, with parameters; `{ model: '{"model_name": "x"}' }` gives `#/chat?model=%7B%22model_name…`. */
export function pageHash(page: string, parameters: Readonly<Record<string, string>> = {}): string {
  const query = Object.entries(parameters)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&');
  return query === '' ? `#/${page}` : `#/${page}?${query}`;
}

/** The page id a hash names (`#/chat?model=x` → `chat`); an empty hash names none (''). */
export function hashPage(hash: string): string {
  return hash.replace(/^#\/?/, '').split('?')[0] ?? '';
}

/** A parameter of a hash (`hashParameter('#/chat?model=gpt-4o', 'model')` → `gpt-4o`), or null. */
export function hashParameter(hash: string, name: string): string | null {
  const at = hash.indexOf('?');
  if (at < 0) return null;
  for (const part of hash.slice(at + 1).split('&')) {
    const equals = part.indexOf('=');
    const key = equals < 0 ? part : part.slice(0, equals);
    if (safeDecode(key) !== name) continue;
    return equals < 0 ? '' : safeDecode(part.slice(equals + 1));
  }
  return null;
}

/** `decodeURIComponent`, but a malformed escape (a hand-edited URL) is kept as it is instead of throwing. */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
