import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';

let loaded: typeof Crypto | null = null;

/**
 * node:crypto, loaded when first used. Loading it sets up OpenSSL's tables, a tenth of what `node -e 0` does in all
 * (bench/RESULTS.md, "cli"): the code on the CLI's lookup path (registry files, atomic writes) takes it from here, so
 * that a command that reads a registry and writes nothing never loads it. Other code imports it as usual.
 */
export function lazyCrypto(): typeof Crypto {
  loaded ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  return loaded;
}
