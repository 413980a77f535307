import { describe, expect, it } from 'vitest';
import { safeStorageVault, type SafeStorageLike } from './safe-storage-vault.js';

function fakeSafeStorage(available: boolean, backend?: string): SafeStorageLike {
  return {
    isEncryptionAvailable: () => available,
    ...(backend === undefined ? {} : { getSelectedStorageBackend: () => backend as 'basic_text' }),
    encryptString: (text) => Buffer.from(`enc:${text}`),
    decryptString: (buffer) => buffer.toString().slice('enc:'.length),
  };
}

describe('safeStorageVault', () => {
  it.each([
    { platform: 'linux', backend: 'gnome_libsecret', available: true, expected: true },
    { platform: 'linux', backend: 'kwallet6', available: true, expected: true },
    // Electron "encrypts" with a fixed password here: no vault.
    { platform: 'linux', backend: 'basic_text', available: true, expected: false },
    { platform: 'darwin', backend: undefined, available: true, expected: true },
    { platform: 'win32', backend: undefined, available: false, expected: false },
  ] as const)('$platform with $backend: a vault is $expected', ({ platform, backend, available, expected }) => {
    expect(safeStorageVault(fakeSafeStorage(available, backend), platform).isAvailable()).toBe(expected);
  });

  it('says why there is none, so the key status can tell the person', () => {
    expect(safeStorageVault(fakeSafeStorage(true, 'basic_text'), 'linux').unavailableReason()).toContain(
      'no keyring (GNOME Keyring or KWallet) is running',
    );
    expect(safeStorageVault(fakeSafeStorage(false), 'win32').unavailableReason()).toBe(
      'the OS key store cannot encrypt here',
    );
  });

  it('encrypts and decrypts through safeStorage', () => {
    const vault = safeStorageVault(fakeSafeStorage(true, 'gnome_libsecret'), 'linux');
    expect(vault.decrypt(vault.encrypt('sk-secret'))).toBe('sk-secret');
  });
});
