import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandModules, commandNameOf, createProgram } from './main.js';

describe('the command table', () => {
  it.each(commandModules.map((module) => [module.commands.map((row) => row.name).join(', '), module] as const))(
    'the rows of %s agree with the commands their module defines',
    async (_names, module) => {
      const program = new Command('clemplay');
      (await module.load())(program);
      expect(program.commands.map((command) => command.name())).toEqual(module.commands.map((row) => row.name));
      for (const row of module.commands) {
        expect(program.commands.find((command) => command.name() === row.name)?.usage()).toBe(row.usage);
      }
    },
  );

  it('command names are unique', () => {
    const names = commandModules.flatMap((module) => module.commands.map((row) => row.name));
    expect(new Set(names).size).toBe(names.length);
  });

  it('--help lists every command with its usage and description, loading none', async () => {
    const help = (await createProgram()).helpInformation();
    for (const row of commandModules.flatMap((module) => module.commands)) {
      expect(help).toContain(`${row.name} ${row.usage}`);
      expect(help.replace(/\s+/g, ' ')).toContain(row.description);
    }
  });

  it('the command being run is defined in full, with the description of its row', async () => {
    const program = await createProgram('resolve');
    const resolve = program.commands.find((command) => command.name() === 'resolve');
    expect(resolve?.options.map((option) => option.long)).toContain('--queries');
    expect(resolve?.description()).toMatch(/^resolve a model spec/);
    // The others are listed only.
    expect(program.commands.find((command) => command.name() === 'serve')?.options).toEqual([]);
  });

  it.each([
    [['node', 'clemplay', 'resolve', 'x', '--json'], 'resolve'],
    [['node', 'clemplay', '--version'], undefined],
    [['node', 'clemplay', 'help', 'chat'], 'chat'],
    [['node', 'clemplay', 'gpu', '--json'], 'gpu'],
  ])('%j runs %s', (argv, name) => {
    expect(commandNameOf(argv)).toBe(name);
  });
});
