// Headless Chromium, every request off loopback blocked: opens a page and prints, as JSON, the
// text of its #result once set, what the page's script can see of its storage, and what was
// blocked.
import { chromium } from 'playwright-core';

const [page_url] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const out = { blocked: [], errors: [] };
try {
  const context = await browser.newContext();
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === '127.0.0.1' || host === 'localhost') return route.continue();
    out.blocked.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => out.errors.push(String(e)));
  await page.goto(page_url);
  await page.waitForFunction(() => document.querySelector('#result').textContent !== '…', null, {
    timeout: 20000,
  });
  out.result = await page.textContent('#result');
  out.visible = await page.evaluate(() =>
    JSON.stringify([document.documentElement.outerHTML, document.cookie, { ...localStorage }]));
} catch (e) {
  out.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
