import { InvalidArgumentError } from 'commander';
import { AppError } from '../../src-shared/errors.js';
import { defaultConfigDir, findAppRoot } from '../paths.js';
import { openRegistryStack, type RegistryStack } from '../registry/registry-stack.js';
import type { AppServices } from '../services.js';

/** Commander's way of collecting a repeatable option (`--registry A --registry B`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The option every registry-reading command takes. */
export const registryOption = {
  flags: '-r, --registry <file>',
  description: 'use exactly these registry files, in this order, instead of the stack (repeatable)',
} as const;

/**
 * What is wrong with the stack for a one-shot command. A `--registry` file that is missing or does not load is the
 * user's to fix (the returned problems become an `invalid-spec` error, exit 2): they named it. A broken file of the
 * default stack is reported on stderr and the others are used, as in the app; so are the warnings of files that load
 * (an entry holding what looks like a key).
 */
function registryProblems(registry: RegistryStack): string[] {
  const problems: string[] = [];
  for (const file of registry.files()) {
    for (const warning of file.warnings) process.stderr.write(`warning: ${warning}\n`);
    const named = file.role === 'explicit';
    if (named && file.status === 'missing') problems.push(`${file.path}: no such registry file`);
    if (file.status !== 'error' || file.problem === undefined) continue;
    if (named) problems.push(file.problem.message);
    else process.stderr.write(`warning: ${file.problem.message} (this file is skipped)\n`);
  }
  return problems;
}

/** The registry stack alone, for commands that only read it (`models`, `resolve`): nothing else is loaded. */
export async function registryForCommand(registryFiles: readonly string[] | undefined): Promise<RegistryStack> {
  const registry = await openRegistryStack({
    appRoot: findAppRoot(),
    cwd: process.cwd(),
    configDir: defaultConfigDir(),
    ...(registryFiles && registryFiles.length > 0 ? { registryFiles } : {}),
  });
  const problems = registryProblems(registry);
  if (problems.length > 0) {
    registry.close();
    throw new AppError('invalid-spec', problems.join('\n'));
  }
  return registry;
}

/**
 * All services (backends, credentials, local models), for commands that run models; see {@link registryProblems}.
 * Long-running commands pass `watch`, so registry edits apply while they run.
 */
export async function servicesForCommand(
  registryFiles: readonly string[] | undefined,
  options: { watch?: boolean } = {},
): Promise<AppServices> {
  // Imported here, not at the top: this module is shared by commands that must not load the services.
  const { createAppServices } = await import('../services.js');
  const services = await createAppServices({
    ...(registryFiles && registryFiles.length > 0 ? { registryFiles } : {}),
    ...(options.watch === true ? { watch: true } : {}),
  });
  const problems = registryProblems(services.registry);
  if (problems.length > 0) {
    await services.dispose();
    throw new AppError('invalid-spec', problems.join('\n'));
  }
  return services;
}

/** A commander parser for a number option; `integer` asks for a whole number, `minimum` bounds it from below. */
export function numberOption(
  name: string,
  { integer = false, minimum, maximum }: { integer?: boolean; minimum?: number; maximum?: number } = {},
) {
  return (value: string): number => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || (integer && !Number.isInteger(number))) {
      throw new InvalidArgumentError(`${name} must be a${integer ? ' whole' : ''} number.`);
    }
    if (minimum !== undefined && number < minimum) {
      throw new InvalidArgumentError(`${name} must be at least ${minimum}.`);
    }
    if (maximum !== undefined && number > maximum) {
      throw new InvalidArgumentError(`${name} must be at most ${maximum}.`);
    }
    return number;
  };
}

/** The sampling temperature option's parser: 0..2, as the API takes it. */
export const temperatureOption = numberOption('temperature', { minimum: 0, maximum: 2 });
/** The max tokens option's parser: a whole number from 1. */
export const maxTokensOption = numberOption('max tokens', { integer: true, minimum: 1 });
