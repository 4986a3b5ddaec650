// A real browser through nginx: headless Chromium opens the page and sees the count rise.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import t from 'tap';
import { withStack } from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';

t.test('Chromium through nginx sees the page and the count rising', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run \`bash tools/install.sh\``);
  const stack = await withStack(t, { replicas: 2 });
  const profile = mkdtempSync(join(tmpdir(), 'hit-counter-chromium-'));
  t.teardown(() => rmSync(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();

  const seen = async (): Promise<bigint> => {
    const text = await page.locator('body').innerText();
    const m = /Holla! we have hit (\d+) times/.exec(text);
    if (!m?.[1])
      throw new Error(`the page does not show the sentence: ${JSON.stringify(text.slice(0, 200))}`);
    return BigInt(m[1]);
  };
  const response = await page.goto(stack.url);
  t.equal(response?.status(), 200, 'the page loads through nginx');
  t.match(response?.headers()['content-type'] ?? '', /text\/html/, 'the browser gets HTML');
  const first = await seen();
  await page.reload();
  const second = await seen();
  t.ok(second > first, `the count rose on reload (${first} -> ${second})`);
  t.equal(await stack.counter(), second, 'the page shows the stored count');
});
