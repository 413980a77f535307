import { describe, expect, it } from 'vitest';
import { appFolders } from './paths.js';

describe('appFolders: one layout for the app, the CLI and the web host', () => {
  it.each([
    {
      platform: 'linux',
      environment: {},
      home: '/home/ada',
      expected: { configDir: '/home/ada/.config/clemplay', dataDir: '/home/ada/.local/share/clemplay' },
    },
    {
      platform: 'linux',
      environment: { XDG_CONFIG_HOME: '/cfg', XDG_DATA_HOME: '/dat' },
      home: '/home/ada',
      expected: { configDir: '/cfg/clemplay', dataDir: '/dat/clemplay' },
    },
    {
      // The XDG spec: a relative value is ignored.
      platform: 'linux',
      environment: { XDG_CONFIG_HOME: 'relative/cfg', XDG_DATA_HOME: '' },
      home: '/home/ada',
      expected: { configDir: '/home/ada/.config/clemplay', dataDir: '/home/ada/.local/share/clemplay' },
    },
    {
      platform: 'darwin',
      environment: {},
      home: '/Users/ada',
      expected: {
        configDir: '/Users/ada/Library/Application Support/clemplay',
        dataDir: '/Users/ada/Library/Application Support/clemplay',
      },
    },
    {
      platform: 'darwin',
      environment: { XDG_CONFIG_HOME: '/Users/ada/.config' },
      home: '/Users/ada',
      expected: {
        configDir: '/Users/ada/.config/clemplay',
        dataDir: '/Users/ada/Library/Application Support/clemplay',
      },
    },
    {
      platform: 'win32',
      environment: { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming', LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' },
      home: 'C:\\Users\\ada',
      expected: {
        configDir: 'C:\\Users\\ada\\AppData\\Roaming\\clemplay',
        dataDir: 'C:\\Users\\ada\\AppData\\Local\\clemplay',
      },
    },
    {
      platform: 'win32',
      environment: {},
      home: 'C:\\Users\\ada',
      expected: {
        configDir: 'C:\\Users\\ada\\AppData\\Roaming\\clemplay',
        dataDir: 'C:\\Users\\ada\\AppData\\Local\\clemplay',
      },
    },
  ] as const)('$platform with $environment', ({ platform, environment, home, expected }) => {
    expect(appFolders(environment, platform, home)).toEqual(expected);
  });
});
