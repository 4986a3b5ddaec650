// Headless Chromium (Debian's package) driven by playwright-core, with a fresh profile and none of
// the background networking this machine's closed network would refuse.
import { rmSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { pidsWithArg } from '../stack/procfs.ts';
import { requireBinary, tempDir, waitFor } from './proc.ts';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts Chromium; close() ends the browser's processes and then removes its profile. */
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
  // Chromium's processes still write into the profile (preferences, cache index) while they shut
  // down after the 'close' event: close() removes it once none of them runs any more.
  const profileArg = `--user-data-dir=${profile}`;
  const close = context.close.bind(context);
  context.close = async (options) => {
    await close(options);
    await waitFor(() => pidsWithArg(profileArg).length === 0, {
      timeoutMs: 15_000,
      what: 'the Chromium processes to exit',
    }).finally(() => rmSync(profile, { recursive: true, force: true }));
  };
  return context;
}
