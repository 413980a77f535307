import type { SafeStorage } from 'electron';
import type { SecretVault } from '../credentials/secret-vault.js';

/** The part of Electron's `safeStorage` the vault uses (`getSelectedStorageBackend` exists on Linux only). */
export type SafeStorageLike = Pick<SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'> &
  Partial<Pick<SafeStorage, 'getSelectedStorageBackend'>>;

/**
 * The OS key store as a {@link SecretVault}. On Linux without a keyring (GNOME Keyring, KWallet), Electron falls back
 * to `basic_text`, which "encrypts" with a password written in Chromium's source: that is no vault, so keys then go to
 * credentials.json (mode 0600), where the CLI can read them too, and the status says why.
 */
export function safeStorageVault(safeStorage: SafeStorageLike, platform: NodeJS.Platform): SecretVault {
  const onlyBasicText = (): boolean =>
    platform === 'linux' && safeStorage.getSelectedStorageBackend?.() === 'basic_text';
  return {
    isAvailable: () => safeStorage.isEncryptionAvailable() && !onlyBasicText(),
    unavailableReason: () =>
      onlyBasicText()
        ? 'no keyring (GNOME Keyring or KWallet) is running, and without one Electron would only obfuscate the key ' +
          'with a fixed password'
        : 'the OS key store cannot encrypt here',
    encrypt: (text) => safeStorage.encryptString(text),
    decrypt: (buffer) => safeStorage.decryptString(buffer),
  };
}
