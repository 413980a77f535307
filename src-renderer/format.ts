/** Bytes for people: `12 B`, `1.5 KiB`, `3.2 GiB`. */
export function formatBytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let amount = value;
  let unit = 0;
  while (amount >= 1024 && unit < units.length - 1) {
    amount /= 1024;
    unit += 1;
  }
  return `${amount.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A parameter count for people: `148K`, `494M`, `1.2B`; `–` when unknown. */
export function formatParameters(count: number | null): string {
  if (count === null) return '–';
  if (count >= 1e9) return `${(count / 1e9).toFixed(1)}B`;
  return count >= 1e6 ? `${Math.round(count / 1e6)}M` : `${Math.round(count / 1e3)}K`;
}

/** A load setting typed by a person: `auto` (or one of `words`), or a whole number of at least `minimum`. */
export function parseSetting<Word extends string>(
  text: string,
  words: readonly Word[],
  minimum: number,
): { ok: true; value: Word | number } | { ok: false } {
  const trimmed = text.trim().toLowerCase();
  const word = words.find((candidate) => candidate === trimmed);
  if (word !== undefined) return { ok: true, value: word };
  if (!/^\d+$/.test(trimmed)) return { ok: false };
  const value = Number(trimmed);
  return value >= minimum && Number.isSafeInteger(value) ? { ok: true, value } : { ok: false };
}
