// Headless Chromium (Debian's package) driven by playwright-core, with a fresh profile and none of
// the background networking this machine's closed network would refuse.
import { rmSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { requireBinary, tempDir } from './proc.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts Chromium; close() ends the browser process and removes its profile. */
export async function launchChromium(): Promise<BrowserContext> {
  requireBinary(CHROMIUM);
  const profile = tempDir('hit-counter-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
  });
  context.on('close', () => rmSync(profile, { recursive: true, force: true }));
  return context;
}
