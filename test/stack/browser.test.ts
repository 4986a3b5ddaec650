// A real browser through nginx: headless Chromium opens the page and sees the count rise.
import t from 'tap';
import { launchChromium } from '../../tools/lib/browser.ts';
import { withStack } from './fixture.ts';

t.test('Chromium through nginx sees the page and the count rising', async (t) => {
  const stack = await withStack(t, { replicas: 2 });
  const browser = await launchChromium();
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
