// Debian's Chromium for the page tests (driven with playwright-core), and the flags that keep it
// quiet and offline in a test: no sandbox (tests run as root), no GPU, no background traffic.
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS: string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];
