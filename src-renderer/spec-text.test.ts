import { describe, expect, it } from 'vitest';
import { withModelName } from './spec-text';

describe('withModelName', () => {
  it('replaces a plain name, or the model_name of a JSON spec keeping its other keys', () => {
    expect(withModelName('gpt-4o-mnii', 'gpt-4o-mini')).toBe('gpt-4o-mini');
    expect(withModelName('{"model_name": "gpt4o", "temperature": 0}', 'gpt-4o')).toBe(
      '{"model_name":"gpt-4o","temperature":0}',
    );
    expect(withModelName('{"model_name": ', 'gpt-4o')).toBe('gpt-4o');
    expect(withModelName('[1]', 'gpt-4o')).toBe('gpt-4o');
  });
});
