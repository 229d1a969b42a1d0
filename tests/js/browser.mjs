// Headless Chromium with every request off loopback blocked: GraphiQL served by flowgate runs a
// query; then a page on another origin queries flowgate through CORS and runs a subscription.
// Prints one JSON object with what the pages showed and which requests were blocked.
import { chromium } from 'playwright-core';

const [gateway, page_url] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
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

  await page.goto(gateway + '/');
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 20000 });
  await page.evaluate(() => {
    const editor = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
    editor.setValue('{ viewer { appmixer { email } appypie { email } } connects(first: 1) { edges { node { id } } } }');
  });
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue().includes('email'),
    null,
    { timeout: 20000 },
  );
  const result = () =>
    page.evaluate(() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue());
  out.graphiql = JSON.parse(await result());

  // A subscription from GraphiQL runs over its WebSocket, with the demo tokens as connection params.
  const id = out.graphiql.data.connects.edges[0].node.id;
  await page.evaluate((id) => {
    const editor = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
    editor.setValue(`subscription { automationState(id: "${id}") { __typename status } }`);
  }, id);
  await page.waitForTimeout(800); // GraphiQL parses the edited document after a short debounce
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue().includes('automationState'),
    null,
    { timeout: 20000 },
  );
  out.graphiql_subscription = JSON.parse(await result());

  await page.goto(page_url);
  await page.waitForFunction(() => document.querySelector('#subscription').textContent !== '…', null, {
    timeout: 20000,
  });
  out.query = await page.textContent('#query');
  out.subscription = await page.textContent('#subscription');
} catch (e) {
  out.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
