/**
 * Encryption by the operating system's key store. The Electron layer implements it with `safeStorage`; the CLI and
 * the web host have none, so this folder never imports electron.
 */
export interface SecretVault {
  /** False where the OS offers no key store (e.g. Linux without a keyring): keys then go to the 0600 file. */
  isAvailable(): boolean;
  /** Why {@link isAvailable} is false, said so that a person can act on it (shown with the key status). */
  unavailableReason(): string;
  encrypt(text: string): Buffer;
  /** Throws when the blob was made under another OS user or key store. */
  decrypt(buffer: Buffer): string;
}
