import type { Command } from 'commander';
import { foldersOf } from '../services.js';
import { servicesForCommand } from './options.js';

/** `clemplay folders`: where the app, the CLI and the web host keep a person's files (one layout for all three). */
export function registerFoldersCommand(program: Command): void {
  program
    .command('folders')
    .option('--json', 'print one JSON object { config, data, models, results }')
    .action(async (options: { json?: boolean }) => {
      const services = await servicesForCommand(undefined);
      try {
        const folders = foldersOf(services);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(folders, null, 2)}\n`);
          return;
        }
        const rows: Array<[string, string]> = [
          ['config', `${folders.config}  (settings.json, model_registry.json, credentials.json)`],
          ['data', `${folders.data}  (sessions/, votes.json)`],
          ...folders.models.map((folder, index): [string, string] => [
            index === 0 ? 'models' : '',
            index === 0 && folders.models.length > 1 ? `${folder}  (downloads go here)` : folder,
          ]),
          ['results', folders.results],
        ];
        for (const [name, value] of rows) process.stdout.write(`${name.padEnd(8)} ${value}\n`);
      } finally {
        await services.dispose();
      }
    });
}
