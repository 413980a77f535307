import type { Command } from 'commander';
import { AppError } from '../../src-shared/errors.js';
import type { TrustedOrigin } from '../credentials/trusted-origins.js';
import { collect, registryOption, servicesForCommand } from './options.js';

/** One line per origin: the origin, then why it is trusted. */
export function formatTrustedOrigins(origins: readonly TrustedOrigin[]): string {
  const width = Math.max(6, ...origins.map((entry) => entry.origin.length));
  const lines = origins.map((entry) => {
    const why = entry.sources.map((source) =>
      source.kind === 'built-in' ? 'built in' : source.kind === 'settings' ? 'added by you' : `${source.path}`,
    );
    return `${entry.origin.padEnd(width)}  ${[...new Set(why)].join(', ')}`;
  });
  return `${'origin'.padEnd(width)}  trusted because of\n${lines.join('\n')}\n`;
}

/** `clemplay trust ORIGIN`, `--list`, `--remove ORIGIN`. */
export function registerTrustCommand(program: Command): void {
  program
    .command('trust')
    .argument('[origin]', 'the server to trust: scheme, host and port (any URL on it, such as a base_url, works)')
    .option('-l, --list', 'list the trusted origins and why each is trusted')
    .option('--remove <origin>', 'stop trusting an origin you added')
    .option('--json', 'with --list: print JSON')
    .option(registryOption.flags, registryOption.description, collect)
    .action(
      async (
        origin: string | undefined,
        options: { list?: boolean; remove?: string; json?: boolean; registry?: string[] },
      ) => {
        const actions = [origin !== undefined, options.list === true, options.remove !== undefined].filter(Boolean);
        if (actions.length !== 1) throw new AppError('invalid-input', 'give one of: ORIGIN, --list, --remove ORIGIN');
        const services = await servicesForCommand(options.registry);
        try {
          const trusted = services.trustedOrigins;
          if (options.list === true) {
            const origins = await trusted.list();
            process.stdout.write(
              options.json === true ? `${JSON.stringify(origins, null, 2)}\n` : formatTrustedOrigins(origins),
            );
          } else if (options.remove !== undefined) {
            process.stdout.write(`no longer trusted: ${await trusted.remove(options.remove)}\n`);
          } else if (origin !== undefined) {
            const added = await trusted.add(origin);
            process.stdout.write(`trusted: ${added} (saved in ${services.settings.path})\n`);
          }
        } finally {
          await services.dispose();
        }
      },
    );
}
