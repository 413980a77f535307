import { AppError } from '../../src-shared/errors.js';

/** One line llama.cpp logged through node-llama-cpp's logger. */
export interface LlamaLogLine {
  level: string;
  message: string;
  /** `performance.now()` when it arrived. */
  at: number;
}

/**
 * The recent lines of node-llama-cpp's log. llama.cpp says why a load failed only there (the rejection just says
 * "Failed to load model"), and the line can arrive after the rejection, so failures wait for it briefly.
 */
export class LlamaLog {
  private readonly lines: LlamaLogLine[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(private readonly limit = 500) {}

  add(level: string, message: string): void {
    this.lines.push({ level, message: message.trim(), at: performance.now() });
    if (this.lines.length > this.limit) this.lines.splice(0, this.lines.length - this.limit);
    for (const listener of this.listeners) listener();
  }

  /** Lines logged at or after `at`. */
  since(at: number): LlamaLogLine[] {
    return this.lines.filter((line) => line.at >= at);
  }

  /** The last `count` lines. */
  recent(count = 20): LlamaLogLine[] {
    return this.lines.slice(-count);
  }

  /** The first line since `at` that matches, waiting up to `timeoutMs` for one to arrive. */
  async waitFor(pattern: RegExp, at: number, timeoutMs: number): Promise<LlamaLogLine | undefined> {
    const find = (): LlamaLogLine | undefined => this.since(at).find((line) => pattern.test(line.message));
    const found = find();
    if (found !== undefined || timeoutMs <= 0) return found;
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(find());
      };
      const check = (): void => {
        if (find() !== undefined) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.listeners.add(check);
    });
  }
}

/** Bytes as people read them: "512 MiB", "7.4 GiB". */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** The lines that end a failed load (llama.cpp's own words). */
export const loadFailureLinePattern = /error loading model|failed to load model|unknown model architecture/i;

/** Known llama.cpp reasons, in the order they are checked, with what a person should do about each. */
const knownReasons: readonly {
  pattern: RegExp;
  code: 'model-load' | 'out-of-memory';
  advice: (path: string) => string;
}[] = [
  {
    pattern: /not within the file bounds|unexpectedly reached end of file|file is truncated|tensor data is not/i,
    code: 'model-load',
    advice: (path) => `${path} is truncated or corrupt — the download was probably cut short; download it again.`,
  },
  {
    pattern: /unknown model architecture: '([^']*)'/i,
    code: 'model-load',
    advice: (path) => `${path} has an architecture this llama.cpp does not support — pick another model.`,
  },
  {
    pattern: /failed to read (key-value pairs|tensor info|header)|invalid magic|gguf_init_from_file/i,
    code: 'model-load',
    advice: (path) => `${path} has a corrupt GGUF header — download it again.`,
  },
  {
    pattern: /out of memory|failed to allocate|unable to allocate|cudaMalloc failed|ErrorOutOfDeviceMemory/i,
    code: 'out-of-memory',
    advice: () =>
      'Not enough memory — unload other models, lower context_size or gpu_layers, or use a smaller quantization.',
  },
];

/**
 * Turns a failed `loadModel` into an {@link AppError} that says why, from llama.cpp's log lines of that load
 * (`error loading model: …`); falls back to the exception's own message.
 */
export function describeLoadFailure(error: unknown, lines: readonly LlamaLogLine[], path: string): AppError {
  const errorText = error instanceof Error ? error.message : String(error);
  const logged = lines.filter((line) => line.level === 'error' || loadFailureLinePattern.test(line.message));
  const haystack = [...logged.map((line) => line.message), errorText].join('\n');
  const llamaReason = /error loading model:\s*(.+)/i.exec(haystack)?.[1]?.trim();
  for (const known of knownReasons) {
    if (known.pattern.test(haystack)) {
      const detail = llamaReason ?? errorText;
      return new AppError(known.code, `${known.advice(path)} (llama.cpp: ${detail})`, {
        path,
        llama_cpp: detail,
      });
    }
  }
  const detail = llamaReason ?? errorText;
  return new AppError('model-load', `Could not load ${path}: ${detail}`, { path, llama_cpp: detail });
}
