import { describe, expect, it } from 'vitest';
import { backendNames, listBackendModels, loadBackend, unknownBackendMessage } from './loader.js';

describe('backend loader', () => {
  it('loads a backend by name, once', async () => {
    const first = await loadBackend('programmatic');
    expect(first.name).toBe('programmatic');
    expect(await loadBackend('programmatic')).toBe(first);
  });

  it('names the backends it has when a name is unknown', async () => {
    await expect(loadBackend('telepathy')).rejects.toMatchObject({
      code: 'invalid-spec',
      message: `unknown backend "telepathy"; clemplay has: ${backendNames.join(', ')}`,
    });
  });

  it.each(['huggingface_local', 'anthropic', 'vllm', 'openrouter'])(
    'says that clemcore backend %s is not here and how to reach it through openai_compatible',
    async (name) => {
      await expect(loadBackend(name)).rejects.toMatchObject({ code: 'invalid-spec' });
      expect(unknownBackendMessage(name)).toContain('clemcore backend');
      expect(unknownBackendMessage(name)).toContain('openai_compatible');
    },
  );

  it('lists models only for OpenAI-style specs', async () => {
    await expect(
      listBackendModels(
        { model_name: 'x', backend: 'programmatic' },
        { getApiKey: async () => ({ apiKey: undefined }) },
      ),
    ).rejects.toMatchObject({ code: 'invalid-input' });
  });
});
