/** The installed electron package of this checkout. */
export const electronPackageDir: string;

/** Where to look: Electron's package folder and the environment (for ELECTRON_OVERRIDE_DIST_PATH). */
export interface ElectronLookup {
  electronDir?: string;
  environment?: Record<string, string | undefined>;
}

/** Where the Electron executable is or would be; `path` null: not installed and no override. */
export function locateElectron(options?: ElectronLookup): {
  path: string | null;
  exists: boolean;
  override: string | null;
};

/** The path of an installed Electron executable, or null when there is none (never starts a download). */
export function findElectronBinary(options?: ElectronLookup): string | null;
