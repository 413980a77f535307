/** The path of an installed Electron executable, or null when there is none (never starts a download). */
export function findElectronBinary(): string | null;
