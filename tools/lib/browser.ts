// Headless Chromium (Debian's package) driven by playwright-core, with a fresh profile and none of
// the background networking this machine's closed network would refuse.
import { rmSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { requireBinary, tempDir } from './proc.ts';

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
  const executablePath = requireBinary('chromium');
  const profile = tempDir('hit-counter-chromium-');
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: ARGS });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  context.on('close', () => rmSync(profile, { recursive: true, force: true }));
  return context;
}
