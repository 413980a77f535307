import { describe, expect, it } from 'vitest';
import { AppError } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import {
  loadKey,
  readChatTemplate,
  readLlamaSpec,
  readLoadSettings,
  readModelSource,
  readSamplingSettings,
} from './settings.js';
import { autoThreadCount, physicalCoreCount } from './threads.js';

function failure(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('model source', () => {
  it.each<[string, JsonObject, ReturnType<typeof readModelSource>]>([
    ['a path', { model_path: 'models/a.gguf' }, { kind: 'path', path: 'models/a.gguf', keyPath: 'model_path' }],
    [
      'a path under model_config',
      { model_config: { model_path: '/m/a.gguf' } },
      { kind: 'path', path: '/m/a.gguf', keyPath: 'model_config.model_path' },
    ],
    [
      'an hf URI',
      { model_uri: 'hf:user/repo:Q4_K_M' },
      { kind: 'uri', uri: 'hf:user/repo:Q4_K_M', keyPath: 'model_uri' },
    ],
    [
      'a URL',
      { model_uri: 'https://example.com/m.gguf' },
      { kind: 'uri', uri: 'https://example.com/m.gguf', keyPath: 'model_uri' },
    ],
    [
      "clemcore's huggingface_id and model_config.filename",
      { huggingface_id: 'TheBloke/openchat-GGUF', model_config: { filename: '*Q5_0.gguf' } },
      { kind: 'huggingface', repository: 'TheBloke/openchat-GGUF', filename: '*Q5_0.gguf', keyPath: 'huggingface_id' },
    ],
    [
      'the path first when several are given',
      { model_path: '/a.gguf', model_uri: 'hf:u/r:Q8_0' },
      { kind: 'path', path: '/a.gguf', keyPath: 'model_path' },
    ],
  ])('reads %s', (_name, spec, expected) => {
    expect(readModelSource(spec)).toEqual(expected);
  });

  it.each<[string, JsonObject, RegExp]>([
    ['no source', { backend: 'llamacpp' }, /needs one of `model_path`/],
    ['a number as path', { model_path: 3 }, /`model_path` must be a non-empty string/],
    ['an unknown URI scheme', { model_uri: 'ftp://x/y.gguf' }, /`model_uri` must be "hf:user\/repo:quant"/],
    ['a malformed repository', { huggingface_id: 'no-slash' }, /`huggingface_id` must be a Hugging Face repository id/],
  ])('rejects %s with invalid-spec', (_name, spec, message) => {
    const error = failure(() => readModelSource(spec));
    expect(error.code).toBe('invalid-spec');
    expect(error.message).toMatch(message);
  });
});

describe('load settings', () => {
  it('defaults every setting to auto and one sequence (threads are measured at load)', () => {
    expect(readLoadSettings({})).toEqual({
      gpuLayers: 'auto',
      contextSize: 'auto',
      threads: 'auto',
      batchSize: 'auto',
      flashAttention: 'auto',
      parallel: 1,
    });
    expect(readLoadSettings({ threads: 'auto' }).threads).toBe('auto');
  });

  it('reads explicit values, top level over model_config', () => {
    const settings = readLoadSettings({
      gpu_layers: 'max',
      context_size: 1024,
      threads: 3,
      batch_size: 64,
      flash_attention: false,
      parallel: 2,
      model_config: { context_size: 4096, threads: 9 },
    });
    expect(settings).toEqual({
      gpuLayers: 'max',
      contextSize: 1024,
      threads: 3,
      batchSize: 64,
      flashAttention: false,
      parallel: 2,
    });
    expect(readLoadSettings({ gpu_layers: 12 }).gpuLayers).toBe(12);
  });

  it("reads clemcore's execute_on and gpu_layers_offloaded", () => {
    expect(readLoadSettings({ execute_on: 'cpu' }).gpuLayers).toBe(0);
    expect(readLoadSettings({ execute_on: 'gpu' }).gpuLayers).toBe('max');
    expect(readLoadSettings({ gpu_layers_offloaded: -1 }).gpuLayers).toBe('max');
    expect(readLoadSettings({ gpu_layers_offloaded: 20 }).gpuLayers).toBe(20);
    expect(readLoadSettings({ gpu_layers: 4, execute_on: 'gpu' }).gpuLayers).toBe(4);
  });

  it('takes descriptive context sizes of registry entries ("32k") as auto', () => {
    expect(readLoadSettings({ context_size: '32k' }).contextSize).toBe('auto');
    expect(readLoadSettings({ context_size: '128K' }).contextSize).toBe('auto');
    expect(readLoadSettings({ context_size: 'auto' }).contextSize).toBe('auto');
  });

  it.each<[JsonObject, RegExp]>([
    [{ gpu_layers: 'all' }, /`gpu_layers` must be "auto", "max" or a whole number ≥ 0, not "all"/],
    [{ gpu_layers: -2 }, /`gpu_layers` must be/],
    [{ context_size: 'huge' }, /`context_size` must be "auto" or a number of tokens/],
    [{ context_size: 8 }, /`context_size` must be a whole number from 16/],
    [{ threads: 0 }, /`threads` must be a whole number from 1/],
    [{ model_config: { batch_size: 1.5 } }, /`model_config.batch_size` must be a whole number/],
    [{ flash_attention: 'yes' }, /`flash_attention` must be "auto", true or false/],
    [{ parallel: 100 }, /`parallel` must be a whole number from 1 to 64/],
    [{ execute_on: 'tpu' }, /`execute_on` must be "gpu" or "cpu"/],
  ])('rejects %j', (spec, message) => {
    const error = failure(() => readLoadSettings(spec));
    expect(error.code).toBe('invalid-spec');
    expect(error.message).toMatch(message);
  });

  it('keys loaded models by file and every load setting', () => {
    const settings = readLoadSettings({});
    expect(loadKey('/a.gguf', settings)).toBe(loadKey('/a.gguf', { ...settings }));
    expect(loadKey('/a.gguf', settings)).not.toBe(loadKey('/a.gguf', { ...settings, contextSize: 256 }));
    expect(loadKey('/a.gguf', settings)).not.toBe(loadKey('/b.gguf', settings));
  });
});

describe('chat template', () => {
  it.each<[JsonObject, ReturnType<typeof readChatTemplate>]>([
    [{}, { kind: 'auto' }],
    [{ chat_template: 'auto' }, { kind: 'auto' }],
    [{ chat_template: 'jinja' }, { kind: 'file' }],
    [{ chat_template: 'chatML' }, { kind: 'named', name: 'chatML', keyPath: 'chat_template' }],
    [{ chat_template: '{{ messages }}' }, { kind: 'jinja', template: '{{ messages }}', keyPath: 'chat_template' }],
    [
      { model_config: { custom_chat_template: '{% for m in messages %}{{ m.content }}{% endfor %}' } },
      {
        kind: 'jinja',
        template: '{% for m in messages %}{{ m.content }}{% endfor %}',
        keyPath: 'model_config.custom_chat_template',
      },
    ],
    [{ model_config: { premade_chat_template: true, custom_chat_template: '{{ x }}' } }, { kind: 'file' }],
  ])('reads %j', (spec, expected) => {
    expect(readChatTemplate(spec)).toEqual(expected);
  });
});

describe('sampling', () => {
  it('puts per-call options over the spec, top level over model_config', () => {
    const spec: JsonObject = {
      temperature: 0.7,
      model_config: { top_k: 40, min_p: 0.05, repeat_penalty: 1.1, max_tokens: 50 },
      seed: 3,
    };
    expect(readSamplingSettings(spec, { max_tokens: 10, stop: ['\n'] })).toEqual({
      temperature: 0.7,
      maxTokens: 10,
      seed: 3,
      topK: 40,
      minP: 0.05,
      repeatPenalty: 1.1,
      stop: ['\n'],
    });
    expect(readSamplingSettings(spec, { top_k: 5 }).topK).toBe(5);
  });

  it('rejects bad values: invalid-spec from the spec, invalid-input from the call', () => {
    expect(failure(() => readSamplingSettings({ top_k: -1 }, {})).code).toBe('invalid-spec');
    expect(failure(() => readSamplingSettings({ min_p: 2 }, {})).message).toMatch(
      /`min_p` must be a number from 0 to 1/,
    );
    expect(failure(() => readSamplingSettings({}, { top_k: 1.5 })).code).toBe('invalid-input');
    expect(failure(() => readSamplingSettings({}, { max_tokens: 0 })).code).toBe('invalid-input');
  });

  it('checks the whole spec at once, eos_to_cull included', () => {
    expect(readLlamaSpec({ model_path: '/a.gguf', eos_to_cull: '<\\|im_end\\|>' }).eosToCull?.source).toBe(
      '<\\|im_end\\|>',
    );
    expect(failure(() => readLlamaSpec({ model_path: '/a.gguf', temperature: 'hot' })).code).toBe('invalid-spec');
  });
});

describe('threads', () => {
  it('counts physical cores from cpuinfo, hyper-threads once', () => {
    const cpu = (processor: number, core: number, physical = 0): string =>
      `processor\t: ${processor}\nphysical id\t: ${physical}\ncore id\t\t: ${core}\n`;
    expect(physicalCoreCount([cpu(0, 0), cpu(1, 1)].join('\n'))).toBe(2);
    expect(physicalCoreCount([cpu(0, 0), cpu(1, 0), cpu(2, 1), cpu(3, 1)].join('\n'))).toBe(2);
    expect(physicalCoreCount([cpu(0, 0, 0), cpu(1, 0, 1)].join('\n'))).toBe(2);
    expect(physicalCoreCount('processor : 0\n')).toBeGreaterThanOrEqual(1);
  });

  it('counts only the cores CPU affinity or a container lets this process use', () => {
    const cpu = (core: number): string => `processor\t: ${core}\nphysical id\t: 0\ncore id\t\t: ${core}\n`;
    const host = [0, 1, 2, 3, 4, 5, 6, 7].map(cpu).join('\n');
    // /proc/cpuinfo lists all 8 host cores; `taskset -c 0,1` (or a 2-CPU cpuset) leaves 2 usable.
    expect(physicalCoreCount(host, 2)).toBe(2);
    expect(autoThreadCount(physicalCoreCount(host, 2))).toBe(1);
    expect(physicalCoreCount(host, 16)).toBe(8);
    expect(physicalCoreCount('processor : 0\n', 3)).toBe(3);
  });

  it('falls back to half the physical cores, at least one, where nothing could be measured', () => {
    expect([1, 2, 3, 4, 16].map((cores) => autoThreadCount(cores))).toEqual([1, 1, 1, 2, 8]);
  });
});
