// A real browser: headless Chromium (Debian's, driven by playwright-core) opens / and sees the
// sentence; a reload shows the next number.
import t from 'tap';
import { launchChromium } from '../../tools/lib/browser.ts';
import { startService } from './helpers/service.ts';

t.test('the page shows the sentence and a reload shows N+1', async (t) => {
  const service = await startService(t);
  const context = await launchChromium();
  // Closing the context ends the browser process playwright started.
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());

  const response = await page.goto(`${service.url}/`);
  t.equal(response?.status(), 200);
  t.match(response?.headers()['content-type'], /^text\/html/);
  t.equal(await page.getAttribute('html', 'lang'), 'en');
  t.ok((await page.title()).length > 0, 'the page has a title');
  const heading = page.getByRole('heading', { level: 1 });
  const first = await heading.textContent();
  const m = /^Holla! we have hit (\d+) times$/.exec(first ?? '');
  t.ok(m, `the sentence is shown: ${first}`);
  const n = BigInt(m?.[1] ?? '0');

  await page.reload();
  t.equal(await heading.textContent(), `Holla! we have hit ${n + 1n} times`);
});
