/** Debian's Chromium (Playwright's own browser download is not reachable here); `CLEMPLAY_CHROMIUM` names another. */
export const chromiumPath = process.env.CLEMPLAY_CHROMIUM ?? '/usr/bin/chromium';

/**
 * How Chromium is started for tests and benchmarks: headless, and without the background networking that floods a
 * closed network with connections (ENVIRONMENT.md).
 */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
