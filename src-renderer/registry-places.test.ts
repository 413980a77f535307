import { describe, expect, it } from 'vitest';
import { overriddenOfficialEntries, placeName, type RegistryFileName } from './registry-places';

const files: RegistryFileName[] = [
  { path: '/work/model_registry.json', role: 'working-directory', lookupSource: '/work/model_registry.json' },
  {
    path: '/home/a/.config/clemplay/model_registry.json',
    role: 'user',
    lookupSource: '/home/a/.config/clemplay/model_registry.json',
  },
  { path: '/app/registry/model_registry.json', role: 'official', lookupSource: 'official' },
];

describe('registry places', () => {
  it('names every entry by its source and its position there, so two first entries never read alike', () => {
    expect(placeName('official', 5, files)).toBe('official #5');
    expect(placeName(files[1]!.lookupSource, 0, files)).toBe('your registry #0');
    expect(placeName(files[0]!.lookupSource, 0, files)).toBe('./model_registry.json #0');
    expect(placeName('/elsewhere/team.json', 2, files)).toBe('team.json #2');
  });

  it('marks official entries that an earlier entry of another file overrides', () => {
    const user = files[1]!.lookupSource;
    const rows = [
      { lookupSource: user, index: 0, entry: { model_name: 'gpt-4o-mini' } },
      { lookupSource: 'official', index: 0, entry: { model_name: 'gpt-4o' } },
      { lookupSource: 'official', index: 1, entry: { model_name: 'gpt-4o-mini' } },
      { lookupSource: 'official', index: 2, entry: { model_name: 'gpt-4o' } },
    ];
    expect([...overriddenOfficialEntries(rows, files)]).toEqual([[1, 'your registry #0']]);
  });
});
