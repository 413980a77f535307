import type { Command } from 'commander';
import { AppError } from '../../src-shared/errors.js';
import type { JsonValue } from '../../src-shared/json.js';
import type { DownloadProgress } from '../llama/download.js';
import { formatBytes } from '../llama/failures.js';
import type { ModelFileDetails } from '../llama/gguf-file.js';
import type { GpuInfo } from '../llama/runtime.js';
import { createLocalModelService, type LocalModelService } from '../llama/service.js';
import { ThreadCalibrator, threadCalibrationPath, type ThreadCalibration } from '../llama/thread-calibration.js';
import { defaultConfigDir, defaultDataDir } from '../paths.js';
import { effectiveModelsDirs } from '../services.js';
import { SettingsStore } from '../settings/settings-store.js';

/** Options of {@link registerLocalModelCommands}; tests pass their own service. */
export interface LocalModelCommandOptions {
  /** Makes the service a command uses (and disposes); default: the default models folders. */
  createService?: (modelsDirs?: string[]) => LocalModelService;
}

/** Where commands print: stdout for results, stderr for progress and notes. */
const out = (text: string): void => void process.stdout.write(text);
const note = (text: string): void => void process.stderr.write(text);

/** 147776 → "148K", 1.24e9 → "1.2B". */
export function formatCount(count: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, suffix] of units) {
    if (count >= size) return `${(count / size).toFixed(count / size >= 100 ? 0 : 1)}${suffix}`;
  }
  return String(count);
}

function shortValue(value: JsonValue, width = 100): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** The human-readable form of `clemplay inspect`. */
export function formatModelDetails(details: ModelFileDetails): string {
  const rows: [string, string][] = [
    ['file', `${details.path} (${formatBytes(details.size_bytes)})`],
    [
      'architecture',
      `${details.architecture ?? '?'}${details.supported === null ? '' : details.supported ? ' (supported)' : ' (NOT supported by this llama.cpp)'}`,
    ],
    ['name', details.name ?? '–'],
    [
      'parameters',
      details.parameter_count === null
        ? '?'
        : `${formatCount(details.parameter_count)} (${details.parameter_count.toLocaleString('en')})`,
    ],
    ['quantization', details.quantization ?? '?'],
    ['context length', details.context_length === null ? '?' : `${details.context_length.toLocaleString('en')} tokens`],
    ['layers', details.layer_count === null ? '?' : String(details.layer_count)],
    ['chat template', details.has_chat_template ? 'yes (in the file)' : 'no'],
    ['GGUF', `version ${details.gguf_version}, ${details.tensor_count} tensors`],
    [
      'tensor types',
      Object.entries(details.tensor_types)
        .map(([type, count]) => `${type} ×${count}`)
        .join(', '),
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  let text = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
  const keys = Object.keys(details.metadata).sort();
  const keyWidth = Math.min(48, Math.max(...keys.map((key) => key.length)));
  text += `\n\nmetadata (${keys.length} keys; arrays over 64 items summarised; --json for all of it):\n`;
  for (const key of keys) text += `  ${key.padEnd(keyWidth)}  ${shortValue(details.metadata[key] ?? null)}\n`;
  if (details.problem !== null) text += `\nproblem: ${details.problem.message}\n`;
  return text;
}

function formatThreadSetting(threads: GpuInfo['threads']): string {
  if (threads.setting !== 'auto') return `${threads.setting} (the \`threads\` setting; a spec's \`threads\` wins)`;
  const where = threads.file === null ? 'for this run' : `cached in ${threads.file}`;
  const measured =
    threads.calibrations.length === 0
      ? 'nothing measured yet: the first model of each size class to load is measured'
      : 'measured per model size class:';
  return `"auto" = the fastest measured on this machine (${where}); ${measured}`;
}

/** `64–256 MiB: 1 thread (1: 186.0, 2: 45.2 tokens/s; bench150m.gguf, 2026-11-29)`. */
export function formatCalibration(calibration: ThreadCalibration): string {
  const best = new Map<number, number>();
  for (const { threads, tokens_per_second: rate } of calibration.measurements) {
    best.set(threads, Math.max(rate, best.get(threads) ?? 0));
  }
  const rates = [...best].map(([threads, rate]) => `${threads}: ${rate.toFixed(1)}`).join(', ');
  const where = calibration.offload === 'gpu' ? ', layers on the GPU' : '';
  return (
    `${calibration.size_class}${where}: ${calibration.threads} thread${calibration.threads === 1 ? '' : 's'} ` +
    `(${rates} tokens/s; ${calibration.model_file}, ${calibration.measured_at.slice(0, 10)})`
  );
}

/** The human-readable form of `clemplay gpu`. */
export function formatGpuInfo(info: GpuInfo): string {
  const rows: [string, string][] = [
    ['compute backend', info.backend === 'cpu' ? 'CPU (no GPU found or usable)' : info.backend.toUpperCase()],
    ['devices', info.devices.length === 0 ? '–' : info.devices.join(', ')],
    [
      'VRAM',
      info.vram === null
        ? '–'
        : `${formatBytes(info.vram.free_bytes)} free of ${formatBytes(info.vram.total_bytes)} (${formatBytes(info.vram.used_bytes)} used)`,
    ],
    ['RAM', `${formatBytes(info.ram.free_bytes)} free of ${formatBytes(info.ram.total_bytes)}`],
    ['CPU', `${info.cpu.physical_cores} physical / ${info.cpu.logical_cores} logical cores`],
    ['llama.cpp', `${info.llama_cpp_release} (${info.build} binary, node-llama-cpp 3.21.1)`],
    ['threads', formatThreadSetting(info.threads)],
    ...info.threads.calibrations.map((calibration): [string, string] => ['', formatCalibration(calibration)]),
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return `${rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n`;
}

function progressLine(progress: DownloadProgress): string {
  const percent = (progress.fraction * 100).toFixed(1).padStart(5);
  const total = progress.total_bytes > 0 ? ` of ${formatBytes(progress.total_bytes)}` : '';
  const speed = progress.bytes_per_second > 0 ? `, ${formatBytes(progress.bytes_per_second)}/s` : '';
  return `${percent}%  ${formatBytes(progress.downloaded_bytes)}${total}${speed}`;
}

async function withService<T>(
  options: LocalModelCommandOptions,
  modelsDirs: string[] | undefined,
  work: (service: LocalModelService) => Promise<T>,
): Promise<T> {
  const service =
    options.createService?.(modelsDirs) ??
    createLocalModelService({
      // The folders the app and the web host use too (settings.json's models_dirs included).
      modelsDirs: modelsDirs ?? (await effectiveModelsDirs(defaultConfigDir(), defaultDataDir())),
      idleUnloadMs: 0,
      threadCalibrator: new ThreadCalibrator({ file: threadCalibrationPath(defaultDataDir()) }),
      threadsSetting: async () => (await new SettingsStore(defaultConfigDir()).read()).threads ?? 'auto',
    });
  try {
    return await work(service);
  } finally {
    await service.dispose();
  }
}

/** Adds `inspect FILE.gguf`, `gpu` and `pull URI` to the CLI. */
export function registerLocalModelCommands(program: Command, options: LocalModelCommandOptions = {}): void {
  program
    .command('inspect')
    .argument('<file>', 'a .gguf file')
    .option('--json', 'print everything as JSON (all metadata keys; long arrays summarised)')
    .action(async (file: string, flags: { json?: boolean }) => {
      const details = await withService(options, undefined, (service) => service.inspect(file));
      out(flags.json === true ? `${JSON.stringify(details, null, 2)}\n` : formatModelDetails(details));
      // The header was readable, but the file will not load: say so with the exit code too.
      if (details.problem !== null)
        throw new AppError(details.problem.code, details.problem.message, details.problem.details);
    });

  program
    .command('gpu')
    .option('--json', 'print as JSON')
    .action(async (flags: { json?: boolean }) => {
      const info = await withService(options, undefined, (service) => service.gpu());
      out(flags.json === true ? `${JSON.stringify(info, null, 2)}\n` : formatGpuInfo(info));
    });

  program
    .command('pull')
    .argument('<uri>', 'what to download')
    .option('-d, --dir <dir>', 'the folder to download into (default: the first models folder)')
    .option(
      '-n, --name <name>',
      'the file name to save as (default: from the URI); ends in .gguf, no "/", no leading "."',
    )
    .action(async (uri: string, flags: { dir?: string; name?: string }) => {
      const controller = new AbortController();
      const onInterrupt = (): void => controller.abort();
      process.once('SIGINT', onInterrupt);
      const interactive = process.stderr.isTTY === true;
      let lastLine = 0;
      let lastDecile = -1;
      try {
        const result = await withService(options, flags.dir === undefined ? undefined : [flags.dir], (service) =>
          service.download(
            {
              uri,
              ...(flags.dir === undefined ? {} : { directory: flags.dir }),
              ...(flags.name === undefined ? {} : { fileName: flags.name }),
            },
            {
              signal: controller.signal,
              onProgress: (progress) => {
                const now = performance.now();
                if (interactive) {
                  if (now - lastLine < 200 && progress.fraction < 1) return;
                  lastLine = now;
                  note(`\r${progressLine(progress)}\u001b[K`);
                } else {
                  // Logs get a line per tenth, not a carriage-return animation.
                  const decile = Math.floor(progress.fraction * 10);
                  if (decile === lastDecile) return;
                  lastDecile = decile;
                  note(`${progressLine(progress)}\n`);
                }
              },
            },
          ),
        );
        if (interactive) note('\n');
        if (result.already_present) note(`already downloaded: ${result.path}\n`);
        else if (result.resumed_from_bytes > 0) note(`resumed from ${formatBytes(result.resumed_from_bytes)}\n`);
        out(`${result.path}\n`);
      } catch (error) {
        if (interactive) note('\n');
        throw error;
      } finally {
        process.removeListener('SIGINT', onInterrupt);
      }
    });
}
