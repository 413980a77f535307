import { describe, expect, it } from 'vitest';

import type { ChatMessage } from '../../src-shared/chat.js';
import { AppError } from '../../src-shared/errors.js';
import {
  EosCuller,
  StopStringFilter,
  compileEosPattern,
  cullEos,
  eosHoldBackCharacters,
  mergeGenerationOptions,
  normalizeMessages,
  readSpecGenerationOptions,
  type StreamTextFilter,
} from './options.js';

function thrown(action: () => unknown): AppError {
  try {
    action();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}

/** Pushes the deltas one by one and returns what was shown after each, and the flushed rest. */
function stream(filter: StreamTextFilter, deltas: string[]): { shown: string[]; rest: string } {
  const shown = deltas.map((delta) => filter.push(delta));
  return { shown, rest: filter.flush() };
}

describe('mergeGenerationOptions', () => {
  it('takes per-call options over top-level spec keys over model_config', () => {
    const spec = {
      model_name: 'm',
      temperature: 0.5,
      seed: 7,
      model_config: { temperature: 0.1, max_tokens: 100, top_p: 0.9, stop: '###' },
    };
    expect(mergeGenerationOptions(spec, { max_tokens: 20 })).toEqual({
      temperature: 0.5,
      seed: 7,
      max_tokens: 20,
      top_p: 0.9,
      stop: ['###'],
    });
    expect(mergeGenerationOptions(spec, { temperature: 0, stop: ['a', ''] })).toMatchObject({
      temperature: 0,
      stop: ['a'],
    });
  });

  it('treats null and undefined as not set', () => {
    expect(mergeGenerationOptions({ temperature: null, model_config: { temperature: 0.3 } }, {})).toEqual({
      temperature: 0.3,
    });
    expect(mergeGenerationOptions({ temperature: 0.3 }, { temperature: undefined })).toEqual({ temperature: 0.3 });
  });

  it('names the key path of a bad spec value (invalid-spec)', () => {
    const error = thrown(() => readSpecGenerationOptions({ model_config: { temperature: '0.7' } }));
    expect(error.code).toBe('invalid-spec');
    expect(error.message).toContain('model_config.temperature');
    expect(error.details).toEqual({ key_path: 'model_config.temperature' });
    expect(thrown(() => readSpecGenerationOptions({ max_tokens: 1.5 })).message).toContain('max_tokens');
    expect(thrown(() => readSpecGenerationOptions({ stop: [1] })).message).toContain('stop');
    expect(thrown(() => readSpecGenerationOptions({ top_p: 2 })).message).toContain('top_p');
  });

  it('reports a bad per-call value as invalid-input', () => {
    const error = thrown(() => mergeGenerationOptions({}, { seed: 1.5 }));
    expect(error.code).toBe('invalid-input');
    expect(error.message).toContain('seed');
  });
});

describe('normalizeMessages', () => {
  const message = (role: ChatMessage['role'], content: string): ChatMessage => ({ role, content });

  it('merges consecutive same-role messages with a blank line, as clemcore does', () => {
    const input = [message('user', 'a'), message('user', 'b'), message('assistant', 'c'), message('user', 'd')];
    expect(normalizeMessages(input)).toEqual([
      message('user', 'a\n\nb'),
      message('assistant', 'c'),
      message('user', 'd'),
    ]);
    expect(input[0]).toEqual(message('user', 'a'));
  });

  it('drops empty system messages', () => {
    expect(normalizeMessages([message('system', ''), message('user', 'hi')])).toEqual([message('user', 'hi')]);
    expect(
      normalizeMessages([message('system', '  \n'), message('system', 'be brief'), message('user', 'hi')]),
    ).toEqual([message('system', 'be brief'), message('user', 'hi')]);
  });

  it('keeps an empty list empty', () => {
    expect(normalizeMessages([])).toEqual([]);
  });
});

describe('compileEosPattern and cullEos', () => {
  it('removes a match at the end', () => {
    expect(cullEos('The answer is 42.<|im_end|>', '<\\|im_end\\|>')).toBe('The answer is 42.');
  });

  it('leaves a text without a match alone', () => {
    expect(cullEos('The answer is 42.', '<\\|im_end\\|>')).toBe('The answer is 42.');
  });

  it('removes every match, like re.sub', () => {
    expect(cullEos('a</s>b</s>', '</s>')).toBe('ab');
  });

  it('translates Python-only syntax', () => {
    expect(cullEos('x<END>y', '(?i)<end>')).toBe('xy');
    expect(cullEos('x--y', '(?P<dash>-)(?P=dash)')).toBe('xy');
    expect(cullEos('stop</s>', '</s>\\Z')).toBe('stop');
  });

  it('rejects an invalid pattern as invalid-spec', () => {
    const error = thrown(() => compileEosPattern('(unclosed'));
    expect(error.code).toBe('invalid-spec');
    expect(error.message).toContain('model_config.eos_to_cull');
  });
});

describe('EosCuller (streaming)', () => {
  it('never shows a literal end marker split over deltas', () => {
    const { shown, rest } = stream(new EosCuller('<\\|im_end\\|>'), ['Hello', ' world<|', 'im_', 'end|>']);
    expect(shown).toEqual(['Hello', ' world', '', '']);
    expect(rest).toBe('');
  });

  it('releases held text that turned out not to match', () => {
    const { shown, rest } = stream(new EosCuller('</s>'), ['a </', 'b> c', ' d <']);
    expect(shown).toEqual(['a ', '</b> c', ' d ']);
    expect(rest).toBe('<');
  });

  it('streams text without a match at once for a literal pattern', () => {
    const { shown, rest } = stream(new EosCuller('<\\|eot_id\\|>'), ['one ', 'two ', 'three']);
    expect(shown).toEqual(['one ', 'two ', 'three']);
    expect(rest).toBe('');
  });

  it('handles literal alternatives', () => {
    const { shown, rest } = stream(new EosCuller('</s>|<\\|end\\|>'), ['x<|en', 'd|>y</', 's>']);
    expect(shown.join('') + rest).toBe('xy');
  });

  it('holds back a window for a general pattern and a match that may still grow', () => {
    const culler = new EosCuller('<\\|im_end\\|>.*');
    const long = 'w'.repeat(eosHoldBackCharacters + 10);
    expect(culler.push(long)).toBe('w'.repeat(10));
    // The window slides on: older text is shown, the match (which `.*` may still extend) never is.
    expect(culler.push('<|im_end|> trailing')).toBe('w'.repeat(19));
    expect(culler.push(' junk')).toBe('w'.repeat(5));
    expect(culler.flush()).toBe('w'.repeat(eosHoldBackCharacters - 24));
  });

  it('holds back a match of a general pattern that reaches the end of the text so far', () => {
    const culler = new EosCuller('<\\|im_end\\|>.*');
    expect(culler.push('w'.repeat(100) + '<|im_end|>' + 'x'.repeat(100))).toBe('w'.repeat(100));
    expect(culler.push('y'.repeat(100))).toBe('');
    expect(culler.flush()).toBe('');
  });

  it('culls a general pattern completely in text pushed at once, like cullEos', () => {
    const text = 'answer\n<|im_end|>\nmore';
    const culler = new EosCuller('\\s*<\\|im_end\\|>.*');
    expect(culler.push(text) + culler.flush()).toBe(cullEos(text, '\\s*<\\|im_end\\|>.*'));
  });
});

describe('StopStringFilter', () => {
  it('cuts at a stop string and drops the rest', () => {
    const filter = new StopStringFilter(['STOP']);
    expect(filter.push('Hello ST')).toBe('Hello ');
    expect(filter.stopped).toBe(false);
    expect(filter.push('OP world')).toBe('');
    expect(filter.stopped).toBe(true);
    expect(filter.push('more')).toBe('');
    expect(filter.flush()).toBe('');
  });

  it('releases a held prefix that did not become a stop string', () => {
    const { shown, rest } = stream(new StopStringFilter(['\n\n']), ['a\n', 'b\n']);
    expect(shown).toEqual(['a', '\nb']);
    expect(rest).toBe('\n');
  });

  it('stops at the earliest of several stop strings', () => {
    const filter = new StopStringFilter(['bb', 'a']);
    expect(filter.push('xxbba')).toBe('xx');
  });

  it('passes everything through without stop strings', () => {
    const { shown, rest } = stream(new StopStringFilter([]), ['a', 'b']);
    expect(shown).toEqual(['a', 'b']);
    expect(rest).toBe('');
  });
});
