import { describe, expect, it } from 'vitest';
import { hashPage, hashParameter, pageHash } from './routes';

describe('page hashes', () => {
  it('round-trips a JSON spec through the hash', () => {
    const spec = '{"model_name": "gpt-4o-mini", "temperature": 0.5, "note": "a&b=c?#%"}';
    const hash = pageHash('chat', { model: spec });
    expect(hash.startsWith('#/chat?model=')).toBe(true);
    expect(hash).not.toContain(' ');
    expect(hashPage(hash)).toBe('chat');
    expect(hashParameter(hash, 'model')).toBe(spec);
  });

  it('reads pages and parameters from hashes people type', () => {
    expect(hashPage('')).toBe('');
    expect(hashPage('#/registry')).toBe('registry');
    expect(hashPage('#games?model=x')).toBe('games');
    expect(hashParameter('#/pair', 'model')).toBeNull();
    expect(hashParameter('#/pair?other=1&model=gpt-4o', 'model')).toBe('gpt-4o');
    expect(hashParameter('#/pair?model', 'model')).toBe('');
    expect(hashParameter('#/pair?model=a+b', 'model')).toBe('a b');
    expect(hashParameter('#/pair?model=%E0%A4%A', 'model')).toBe('%E0%A4%A');
    expect(pageHash('games')).toBe('#/games');
  });
});
