import { describe, expect, it } from 'vitest';
import {
  instanceFolderName,
  modelDescriptor,
  modelsFolderName,
  pythonFloat,
  safeFolderName,
} from './results-layout.js';

describe('results layout names', () => {
  it.each([
    [0, '0.0'],
    [1, '1.0'],
    [0.7, '0.7'],
    [1.25, '1.25'],
  ])('temperature %d is written %s', (value, text) => expect(pythonFloat(value)).toBe(text));

  it('names models folders as clemcore does, safe for file names', () => {
    expect(modelDescriptor('gpt-4o-mini', 0)).toBe('gpt-4o-mini-t0.0');
    expect(modelDescriptor('meta-llama/Llama-3.1-8B', 0.7)).toBe('meta-llama_Llama-3.1-8B-t0.7');
    expect(modelsFolderName(['a-t0.0', 'b-t0.0'])).toBe('a-t0.0--b-t0.0');
    expect(modelsFolderName(['a-t0.0'])).toBe('a-t0.0');
    expect(safeFolderName('..')).toBe('_..');
    expect(safeFolderName('a b:c')).toBe('a_b_c');
  });

  it('pads instance folders to five digits', () => {
    expect(instanceFolderName(3)).toBe('instance_00003');
    expect(instanceFolderName(123456)).toBe('instance_123456');
  });
});
