import { join } from 'node:path';
import { findAppRoot, readAppVersion } from './paths.js';

/** Everything the API needs, made once per process and shared by both transports, the CLI and tests. */
export interface AppServices {
  /** The app's version (package.json). */
  readonly version: string;
  /** The folder that holds registry/, out/ and package.json. */
  readonly appRoot: string;
  /** The official registry shipped with the app. */
  readonly officialRegistryPath: string;
}

/** Options of {@link createAppServices}; every field has a default for a normal run. */
export interface AppServicesOptions {
  appRoot?: string;
}

export function createAppServices(options: AppServicesOptions = {}): AppServices {
  const appRoot = options.appRoot ?? findAppRoot();
  return {
    version: readAppVersion(appRoot),
    appRoot,
    officialRegistryPath: join(appRoot, 'registry', 'model_registry.json'),
  };
}
