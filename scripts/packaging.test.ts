import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { drawIcon, encodePng } from './make-icon.js';

// The installer cannot be built here (electron-builder downloads Electron for it), so the configuration is checked the
// way electron-builder reads it: loaded and validated by electron-builder's own code, its file patterns run through
// electron-builder's own matcher, against the files this checkout has.

const root = join(import.meta.dirname, '..');
const requireFromBuilder = createRequire(join(root, 'node_modules', 'app-builder-lib', 'package.json'));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};

/** The parts of electron-builder's configuration this test reads. */
interface BuilderConfig {
  appId?: string;
  productName?: string;
  directories?: { output?: string; buildResources?: string };
  files?: Array<{ filter: string[] }>;
  asar?: boolean;
  asarUnpack?: string[];
  electronFuses?: Record<string, boolean>;
  linux?: { target?: string[]; maintainer?: string };
  mac?: { target?: string[] };
  win?: { target?: string[] };
  nsis?: { deleteAppDataOnUninstall?: boolean };
}

const { getConfig, validateConfiguration } = requireFromBuilder('./out/util/config/config.js') as {
  getConfig(projectDir: string): Promise<BuilderConfig>;
  validateConfiguration(config: BuilderConfig, debugLogger: { isEnabled: boolean; add(): void }): Promise<void>;
};
/** A matcher of electron-builder's: which files it selects from a folder. */
interface FileMatcher {
  readonly patterns: string[];
  readonly macroExpander: (pattern: string) => string;
  createFilter(): (file: string, stat: { isDirectory(): boolean; moduleFullFilePath?: string }) => boolean;
}
type Expand = (pattern: string) => string;
const builderInfo = (config: BuilderConfig) => ({
  projectDir: root,
  buildResourcesDir: config.directories!.buildResources!,
  isPrepackedAppAsar: false,
  config,
  debugLogger: { isEnabled: false },
});
const matchers = requireFromBuilder('./out/fileMatcher.js') as {
  FileMatcher: new (from: string, to: string, expand: Expand, patterns: string[]) => FileMatcher;
  getMainFileMatchers(
    appDir: string,
    destination: string,
    expand: Expand,
    platformOptions: object,
    packager: { info: ReturnType<typeof builderInfo> },
    outDir: string,
    isElectronCompile: boolean,
  ): FileMatcher[];
  getNodeModuleFileMatcher(
    appDir: string,
    destination: string,
    expand: Expand,
    platformOptions: object,
    info: ReturnType<typeof builderInfo>,
  ): FileMatcher;
  getFileMatchers(
    config: BuilderConfig,
    name: 'asarUnpack',
    destination: string,
    options: { macroExpander: Expand; customBuildOptions: object; globalOutDir: string; defaultSrc: string },
  ): FileMatcher[] | null;
};

/** electron-builder's `${os}` for a Node platform. */
const builderOs = { linux: 'linux', darwin: 'mac', win32: 'win' } as const;

/**
 * Whether electron-builder, building for `target`, packs `path` (relative to the root) and whether it unpacks it from
 * app.asar: its own matchers decide, for the app's files and (with their own rules) for node_modules.
 */
function packing(config: BuilderConfig, path: string, target: { os: string; arch: string }) {
  const expand: Expand = (pattern) => pattern.replaceAll('${os}', target.os).replaceAll('${arch}', target.arch);
  const info = builderInfo(config);
  const outDir = join(root, config.directories!.output!);
  const inModule = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  const stat = { isDirectory: () => false, ...(inModule === null ? {} : { moduleFullFilePath: path }) };
  let packed: boolean;
  if (inModule === null) {
    packed = matchers.getMainFileMatchers(root, '/app', expand, {}, { info }, outDir, false)[0]!.createFilter()(
      join(root, path),
      stat,
    );
  } else {
    // node_modules are collected per package (production dependencies only), each with the same node_modules rules.
    const rules = matchers.getNodeModuleFileMatcher(root, '/app', expand, {}, info);
    const packageDir = join(root, 'node_modules', inModule[1]!);
    packed = new matchers.FileMatcher(packageDir, '/app', rules.macroExpander, rules.patterns).createFilter()(
      join(root, path),
      stat,
    );
  }
  const unpackRules = matchers.getFileMatchers(config, 'asarUnpack', '/app', {
    macroExpander: expand,
    customBuildOptions: {},
    globalOutDir: outDir,
    defaultSrc: root,
  });
  const unpacked = unpackRules?.[0]?.createFilter()(join(root, path), stat) ?? false;
  return { packed, unpacked };
}

describe('the installable app (electron-builder.yml)', () => {
  let config: BuilderConfig;
  beforeAll(async () => {
    config = await getConfig(root);
  });

  it('is a configuration electron-builder accepts', async () => {
    await expect(validateConfiguration(config, { isEnabled: false, add: () => undefined })).resolves.toBeUndefined();
    // And an invalid one would be refused: the check can fail.
    await expect(
      validateConfiguration({ ...config, asarUnpak: [] } as BuilderConfig, { isEnabled: false, add: () => undefined }),
    ).rejects.toThrow(/unknown property 'asarUnpak'/);
  });

  it('names the app and builds AppImage and deb, dmg and NSIS, with `npm run dist`', () => {
    expect(config).toMatchObject({ appId: 'org.clemplay.desktop', productName: 'clemplay' });
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(config.linux?.maintainer).toBeTruthy();
    expect(config.mac?.target).toEqual(['dmg']);
    expect(config.win?.target).toEqual(['nsis']);
    // The uninstaller must not take a person's registry, keys and chats with it.
    expect(config.nsis?.deleteAppDataOnUninstall).toBe(false);
    expect(manifest.scripts.dist).toBe('electron-vite build && electron-builder --publish never');
    expect(manifest.devDependencies['electron-builder']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(config.directories?.output).toBe('dist');
  });

  it('packs the build, the official registry, package.json and the production dependencies, and no sources', () => {
    const here = { os: builderOs[process.platform as keyof typeof builderOs] ?? 'linux', arch: process.arch };
    for (const path of [
      manifest.main,
      'out/preload/index.cjs',
      'out/renderer/index.html',
      'registry/model_registry.json',
    ]) {
      // These exist after the build (`npm test` builds first).
      expect(existsSync(join(root, path)), path).toBe(true);
      expect(packing(config, path, here), path).toEqual({ packed: true, unpacked: false });
    }
    expect(packing(config, 'package.json', here).packed).toBe(true);
    expect(packing(config, 'node_modules/@trpc/server/package.json', here).packed).toBe(true);
    expect(packing(config, 'node_modules/node-llama-cpp/dist/index.js', here)).toEqual({
      packed: true,
      unpacked: false,
    });
    for (const path of [
      'src-main/services.ts',
      'e2e/app.spec.ts',
      'README.md',
      'scripts/start.mjs',
      'build/icon.png',
    ]) {
      expect(packing(config, path, here).packed, path).toBe(false);
    }
  });

  it("packs node-llama-cpp's prebuilt binaries for the target only, unpacked from the asar archive", () => {
    expect(config.asar).toBe(true);
    const cases = [
      { target: { os: 'linux', arch: 'x64' }, wanted: 'linux-x64', other: 'linux-arm64' },
      { target: { os: 'mac', arch: 'arm64' }, wanted: 'mac-arm64-metal', other: 'mac-x64' },
      { target: { os: 'win', arch: 'x64' }, wanted: 'win-x64-cuda', other: 'win-arm64' },
    ];
    for (const { target, wanted, other } of cases) {
      const binary = `node_modules/@node-llama-cpp/${wanted}/bins/${wanted}/llama-addon.node`;
      expect(packing(config, binary, target), binary).toEqual({ packed: true, unpacked: true });
      const otherBinary = `node_modules/@node-llama-cpp/${other}/bins/${other}/llama-addon.node`;
      expect(packing(config, otherBinary, target).packed, otherBinary).toBe(false);
      // The package's own package.json stays, so that node-llama-cpp can find the package.
      expect(packing(config, `node_modules/@node-llama-cpp/${wanted}/package.json`, target).packed).toBe(true);
      const ownBinary = `node_modules/node-llama-cpp/bins/${wanted}/llama-addon.node`;
      expect(packing(config, ownBinary, target), ownBinary).toEqual({ packed: true, unpacked: true });
      expect(packing(config, `node_modules/node-llama-cpp/bins/${other}/llama-addon.node`, target).packed).toBe(false);
    }
  });

  it('switches off running as Node and checks the asar archive (fuses)', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
  });

  it('has an icon of at least 512 × 512 in the build resources, as macOS needs', () => {
    const icon = readFileSync(join(root, config.directories!.buildResources!, 'icon.png'));
    expect(icon.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(icon.toString('ascii', 12, 16)).toBe('IHDR');
    expect([icon.readUInt32BE(16), icon.readUInt32BE(20)]).toEqual([1024, 1024]);
  });
});

describe('the icon drawing (scripts/make-icon.ts)', () => {
  it('writes a PNG whose corners are transparent and whose tile is opaque', () => {
    const size = 32;
    const png = encodePng(drawIcon(size), size);
    expect([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]]).toEqual([size, size, 8, 6]);
    const idat = png.indexOf('IDAT');
    const rows = inflateSync(png.subarray(idat + 4, idat + 4 + png.readUInt32BE(idat - 4)));
    const alpha = (x: number, y: number): number => rows[y * (size * 4 + 1) + 1 + x * 4 + 3]!;
    expect(alpha(0, 0)).toBe(0);
    expect(alpha(size - 1, size - 1)).toBe(0);
    expect(alpha(size / 2, size / 2)).toBe(255);
  });
});
