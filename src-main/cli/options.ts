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
 * default stack is reported on stderr and the others are used, as in the app.
 */
function registryProblems(registry: RegistryStack): string[] {
  const problems: string[] = [];
  for (const file of registry.files()) {
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

/** All services (backends, credentials, local models), for commands that run models; see {@link registryProblems}. */
export async function servicesForCommand(registryFiles: readonly string[] | undefined): Promise<AppServices> {
  // Imported here, not at the top: this module is shared by commands that must not load the services.
  const { createAppServices } = await import('../services.js');
  const services = await createAppServices(registryFiles && registryFiles.length > 0 ? { registryFiles } : {});
  const problems = registryProblems(services.registry);
  if (problems.length > 0) {
    await services.dispose();
    throw new AppError('invalid-spec', problems.join('\n'));
  }
  return services;
}
