/** The query with its model name replaced: the name itself for a plain name, else the JSON with `model_name` set. */
export function withModelName(query: string, name: string): string {
  try {
    const parsed: unknown = JSON.parse(query);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return JSON.stringify({ ...parsed, model_name: name });
    }
  } catch {
    // A plain name (or broken JSON): the suggestion replaces it.
  }
  return name;
}
