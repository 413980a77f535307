import { describe, expect, it } from 'vitest';
import { formatBytes, formatParameters, parseSetting } from './format';

describe('formats', () => {
  it('shows small files in bytes, not 0', () => {
    expect(formatBytes(12)).toBe('12 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 2 ** 30)).toBe('3.0 GiB');
  });

  it('shows parameter counts', () => {
    expect(formatParameters(null)).toBe('–');
    expect(formatParameters(147_776)).toBe('148K');
    expect(formatParameters(1.24e9)).toBe('1.2B');
  });

  it('reads load settings: a word, or a whole number above a minimum', () => {
    expect(parseSetting('auto', ['auto', 'max'], 0)).toEqual({ ok: true, value: 'auto' });
    expect(parseSetting(' MAX ', ['auto', 'max'], 0)).toEqual({ ok: true, value: 'max' });
    expect(parseSetting('4096', ['auto'], 16)).toEqual({ ok: true, value: 4096 });
    expect(parseSetting('8', ['auto'], 16)).toEqual({ ok: false });
    expect(parseSetting('1.5', ['auto'], 1)).toEqual({ ok: false });
    expect(parseSetting('lots', ['auto'], 1)).toEqual({ ok: false });
  });
});
