import type { ChatHistoryItem, LlamaChatResponseChunk } from 'node-llama-cpp';
import type { ChatMessage, StreamPart, Usage } from '../../src-shared/chat.js';
import { AppError, toAppErrorShape } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { AsyncQueue } from '../llama/async-queue.js';
import { canGenerateDirectly, generateDirectly } from '../llama/direct-generation.js';
import { isAbortError, loadedModelId, type SequenceLease } from '../llama/runtime.js';
import { defaultLocalModelService, type LocalModelService } from '../llama/service.js';
import { type CallOptions, type LlamaSpec, readSamplingSettings, type SamplingSettings } from '../llama/settings.js';
import { EosCuller, normalizeMessages } from './options.js';
import type { Backend, BackendContext, GenerateRequest, Model } from './types.js';

/** Options of {@link createLlamaCppBackend}. */
export interface LlamaCppBackendOptions {
  /** The service to use when the context brings none; default: the process-wide one (default models folders). */
  service?: LocalModelService;
}

/**
 * The conversation as node-llama-cpp's chat history, ending with the model's turn to speak. When the last message
 * is the assistant's, the model continues it (a prefilled answer), as chat-completion servers with prefill do.
 */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    switch (message.role) {
      case 'system':
        return { type: 'system', text: message.content };
      case 'user':
        return { type: 'user', text: message.content };
      case 'assistant':
        return { type: 'model', response: [message.content] };
    }
  });
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}

/**
 * Off unless asked for: LlamaChat would otherwise penalise the last 64 tokens by 1.1, which neither the other
 * backends nor llama.cpp's server do by default (and which costs time on every token).
 */
function repeatPenaltyOption(sampling: SamplingSettings): false | { penalty: number } {
  return sampling.repeatPenalty === undefined || sampling.repeatPenalty === 1
    ? false
    : { penalty: sampling.repeatPenalty };
}

/**
 * A model of the llamacpp backend: a handle on a model the runtime has loaded (and keeps loaded for other chats);
 * each generation borrows one of its context sequences. `dispose()` lets go of the handle, not of the model.
 */
class LlamaCppModel implements Model {
  private readonly disposed = new AbortController();
  readonly localModelId: string;

  constructor(
    readonly spec: JsonObject,
    private readonly parsed: LlamaSpec,
    private readonly path: string,
    private readonly service: LocalModelService,
  ) {
    this.localModelId = loadedModelId(path, parsed.load);
  }

  async dispose(): Promise<void> {
    // Generations still running end with `end: abort`; the loaded model stays cached for its idle time.
    this.disposed.abort();
  }

  async measure(messages: ChatMessage[], signal?: AbortSignal): Promise<{ tokens: number; context_size: number }> {
    const tools = await this.service.runtime.promptTools(this.path, this.parsed.load, this.parsed.chatTemplate, signal);
    const history = toChatHistory(normalizeMessages(messages));
    // The same rendering and tokenization as a generation's prompt, so the count is its `input_tokens`.
    const state = tools.chatWrapper.generateContextState({ chatHistory: history });
    return { tokens: state.contextText.tokenize(tools.model.tokenizer).length, context_size: tools.contextSize };
  }

  async *generate(request: GenerateRequest, callerSignal: AbortSignal): AsyncGenerator<StreamPart> {
    // Aborted as well when the consumer stops reading, so the generation does not run on unseen.
    const stop = new AbortController();
    const signal = AbortSignal.any([callerSignal, this.disposed.signal, stop.signal]);
    const usage: Usage = { input_tokens: null, output_tokens: 0 };
    let emittedContent = false;
    const errorPart = (error: unknown): StreamPart => ({
      type: 'error',
      error: toAppErrorShape(error),
      partial: emittedContent,
    });
    const endAborted = function* (): Generator<StreamPart> {
      yield { type: 'usage', usage: { ...usage } };
      yield { type: 'end', reason: 'abort' };
    };

    let sampling: SamplingSettings;
    try {
      sampling = readSamplingSettings(this.spec, request.options as CallOptions);
    } catch (error) {
      yield errorPart(error);
      return;
    }
    if (signal.aborted) {
      yield* endAborted();
      return;
    }

    let lease: SequenceLease;
    try {
      lease = await this.service.runtime.acquire(this.path, this.parsed.load, signal);
    } catch (error) {
      if (signal.aborted || isAbortError(error)) yield* endAborted();
      else yield errorPart(error);
      return;
    }

    let generation: Promise<unknown> | undefined;
    let dispose: (() => void) | undefined;
    let countOutput = (): void => undefined;
    try {
      const nl = await this.service.runtime.module();
      const wrapper = lease.chatWrapper(this.parsed.chatTemplate);
      const history = toChatHistory(normalizeMessages(request.messages));
      // Rendered and tokenized once: the count is `input_tokens`, and the direct path evaluates these very tokens.
      const state = wrapper.generateContextState({ chatHistory: history });
      const promptTokens = state.contextText.tokenize(lease.model.tokenizer);
      const inputTokens = promptTokens.length;
      usage.input_tokens = inputTokens;
      if (inputTokens >= lease.contextSize) {
        yield errorPart(
          new AppError(
            'context-overflow',
            `The conversation is ${inputTokens} tokens long, but the model's context holds ${lease.contextSize} — ` +
              'shorten it, or raise `context_size` in the model spec.',
            { input_tokens: inputTokens, context_size: lease.contextSize },
          ),
        );
        return;
      }
      const generationSignal = AbortSignal.any([signal, lease.signal]);
      const maxTokens = Math.min(sampling.maxTokens ?? Number.POSITIVE_INFINITY, lease.contextSize - inputTokens);
      const culler = this.parsed.eosToCull === undefined ? undefined : new EosCuller(this.parsed.eosToCull);
      if (canGenerateDirectly(wrapper, state, sampling)) {
        const texts = generateDirectly({
          model: lease.model,
          sequence: lease.sequence,
          state,
          inputTokens: promptTokens,
          sampling,
          maxTokens,
          signal: generationSignal,
          onTokens: (count) => {
            usage.output_tokens = count;
          },
        });
        let next = await texts.next();
        try {
          while (next.done !== true) {
            const text = culler === undefined ? next.value : culler.push(next.value);
            if (text !== '') {
              emittedContent = true;
              yield { type: 'text-delta', text };
            }
            next = await texts.next();
          }
        } finally {
          // The reader stopped early: end the evaluation before the sequence goes back to the runtime.
          if (next.done !== true) await texts.return('abort');
        }
        const rest = culler?.flush() ?? '';
        if (rest !== '') {
          emittedContent = true;
          yield { type: 'text-delta', text: rest };
        }
        if (next.value === 'abort') {
          yield* endAborted();
          return;
        }
        yield { type: 'usage', usage: { ...usage } };
        yield { type: 'end', reason: next.value === 'max-tokens' ? 'length' : 'stop' };
        return;
      }
      // The sequence's meter counts every sampled token, also those held back as a possible stop string.
      const meter = lease.sequence.tokenMeter;
      const outputBefore = meter.usedOutputTokens;
      countOutput = () => {
        usage.output_tokens = meter.usedOutputTokens - outputBefore;
      };
      const queue = new AsyncQueue<LlamaChatResponseChunk>();
      const chat = new nl.LlamaChat({
        contextSequence: lease.sequence,
        chatWrapper: wrapper,
        autoDisposeSequence: false,
      });
      dispose = () => chat.dispose({ disposeSequence: false });
      const response = chat.generateResponse(history, {
        signal: generationSignal,
        stopOnAbortSignal: true,
        // Never past a full context: node-llama-cpp would drop the start of the conversation and go on forever.
        maxTokens,
        temperature: sampling.temperature,
        topK: sampling.topK,
        topP: sampling.topP,
        minP: sampling.minP,
        seed: sampling.seed,
        repeatPenalty: repeatPenaltyOption(sampling),
        customStopTriggers: sampling.stop.length > 0 ? sampling.stop : undefined,
        onResponseChunk: (chunk) => queue.push(chunk),
      });
      generation = response;
      response.then(
        () => queue.end(),
        (error: unknown) => queue.fail(error),
      );

      for await (const chunk of queue) {
        if (chunk.type === 'segment') {
          // Thoughts stream as reasoning; other segments (comments) are not part of the answer.
          if (chunk.segmentType === 'thought' && chunk.text !== '') {
            emittedContent = true;
            yield { type: 'reasoning-delta', text: chunk.text };
          }
          continue;
        }
        const text = culler === undefined ? chunk.text : culler.push(chunk.text);
        countOutput();
        if (text !== '') {
          emittedContent = true;
          yield { type: 'text-delta', text };
        }
      }
      const result = await response;
      countOutput();
      const rest = culler?.flush() ?? '';
      if (rest !== '') {
        emittedContent = true;
        yield { type: 'text-delta', text: rest };
      }
      if (generationSignal.aborted || result.metadata.stopReason === 'abort') {
        yield* endAborted();
        return;
      }
      yield { type: 'usage', usage: { ...usage } };
      yield { type: 'end', reason: result.metadata.stopReason === 'maxTokens' ? 'length' : 'stop' };
    } catch (error) {
      await generation?.catch(() => undefined);
      countOutput();
      if (signal.aborted || lease.signal.aborted || isAbortError(error)) yield* endAborted();
      else yield errorPart(error);
    } finally {
      stop.abort();
      // The sequence goes back only once node-llama-cpp is done with it, or the next chat would share its state.
      await generation?.catch(() => undefined);
      dispose?.();
      lease.release();
    }
  }
}

/** Makes the llamacpp backend; its models come from the context's `localModels`, else `options.service`. */
export function createLlamaCppBackend(options: LlamaCppBackendOptions = {}): Backend {
  return {
    name: 'llamacpp',
    async createModel(spec: JsonObject, context: BackendContext, signal?: AbortSignal): Promise<Model> {
      const service = context.localModels ?? options.service ?? defaultLocalModelService();
      // A chat stopped while its model downloads or loads stops waiting at once; the download or load itself stops
      // too unless another caller still waits for it.
      const cancel = signal === undefined ? {} : { signal };
      const { path, spec: parsed } = await service.prepare(spec, cancel);
      // Loaded now, so a missing, broken or too large model shows when the model is made, not at its first reply.
      await service.runtime.load(path, parsed.load, cancel);
      service.runtime.checkChatTemplate(path, parsed.load, parsed.chatTemplate);
      return new LlamaCppModel(spec, parsed, path, service);
    },
  };
}

/**
 * The `llamacpp` backend: GGUF models run in this process by node-llama-cpp (CUDA, Vulkan or Metal where there is
 * one). Spec keys: `model_path` | `model_uri` | `huggingface_id` + `model_config.filename`; `gpu_layers`,
 * `context_size`, `threads`, `batch_size`, `flash_attention`, `parallel`, `chat_template`; sampling `temperature`,
 * `top_k`, `top_p`, `min_p`, `repeat_penalty`, `seed`, `max_tokens`, `stop`; clemcore's `eos_to_cull`,
 * `custom_chat_template`, `premade_chat_template`, `execute_on`, `gpu_layers_offloaded`.
 */
export const backend: Backend = createLlamaCppBackend();
