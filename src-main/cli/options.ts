import { AppError } from '../../src-shared/errors.js';
import { createAppServices, type AppServices } from '../services.js';

/** Commander's way of collecting a repeatable option (`--registry A --registry B`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The option every registry-reading command takes. */
export const registryOption = {
  flags: '-r, --registry <file>',
  description: 'use exactly these registry files, in this order, instead of the stack (repeatable)',
} as const;

/** Services for a one-shot command; a registry file that does not load is an `invalid-spec` error (exit 2). */
export async function servicesForCommand(registryFiles: readonly string[] | undefined): Promise<AppServices> {
  const services = await createAppServices(registryFiles && registryFiles.length > 0 ? { registryFiles } : {});
  const missing = services.registry.files().filter((file) => file.role === 'explicit' && file.status === 'missing');
  const problems = [
    ...missing.map((file) => `${file.path}: no such registry file`),
    ...services.registry.problems().map((problem) => problem.message),
  ];
  if (problems.length > 0) {
    await services.dispose();
    throw new AppError('invalid-spec', problems.join('\n'));
  }
  return services;
}
