// Drives mspbridge's web console in Debian's Chromium (crates/server/tests/console.rs starts the
// service and runs this script). Every page is visited, photographed and checked with axe-core;
// the mapping screen, the queue and the reports are used as an operator would. The last line of
// the output is `RESULT {json}` for the Rust test to check through the JSON API.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const base = process.env.CONSOLE_URL;
const password = process.env.CONSOLE_PASSWORD;
const deadJob = process.env.CONSOLE_DEAD_JOB;
const hostileAlert = process.env.CONSOLE_HOSTILE_ALERT;
const shots = process.env.CONSOLE_SHOTS;

function fail(message) {
  throw new Error(message);
}

const browser = await chromium.launchPersistentContext(process.env.CONSOLE_PROFILE, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
  // axe is injected into the page; the console's CSP would refuse it.
  bypassCSP: true,
});
const page = browser.pages()[0] ?? await browser.newPage();
page.setDefaultTimeout(15000);
const problems = [];
page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
page.on('dialog', (dialog) => { problems.push(`dialog opened: ${dialog.message()}`); dialog.dismiss(); });

async function flash() {
  const text = await page.locator('p.flash').first().textContent();
  return text.trim();
}

async function expectFlash(pattern, what) {
  const text = await flash();
  if (!pattern.test(text)) fail(`${what}: the page says "${text}"`);
  console.log(`${what}: ${text}`);
}

async function audit(name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result) console.log(`axe ${name}: ${v.impact} ${v.id} (${v.help}) ${v.nodes.join(', ')}`);
  if (serious.length) problems.push(`axe on ${name}: ${serious.map((v) => `${v.id} at ${v.nodes.join(', ')}`).join('; ')}`);
}

async function visit(route, name) {
  const response = await page.goto(base + route);
  if (response.status() !== 200) fail(`${route} answered ${response.status()}`);
  if (await page.evaluate(() => window.__pwned === 1)) fail(`${route} ran the alert's script`);
  const t = Date.now();
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const s = Date.now();
  await audit(name);
  console.log(`${name}: screenshot ${s - t} ms, axe ${Date.now() - s} ms`);
}

const t0 = Date.now();
const lap = (what) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
// Sign in.
await page.goto(base + '/');
if (!page.url().endsWith('/login')) fail(`without a session / went to ${page.url()}`);
await page.screenshot({ path: path.join(shots, 'login.png') });
await audit('login');
await page.getByLabel('Password').fill(password);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.waitForURL(base + '/');

// Every page, photographed and audited.
const pages = [
  ['/', 'overview'], ['/alerts', 'alerts'], [`/alerts/${hostileAlert}`, 'alert'], ['/incidents', 'incidents'],
  ['/queue', 'queue'], ['/clients', 'clients'], ['/itglue', 'itglue'], ['/itglue/main', 'mapping'],
  ['/reports', 'reports'], ['/events', 'events'],
];
for (const [route, name] of pages) await visit(route, name);
lap('every page visited');

// An alert's page lists its rule decisions in order, as a table named by its caption.
await page.goto(base + `/alerts/${hostileAlert}`);
const decisions = page.getByRole('table', { name: 'Rule decisions, oldest first, each with its reason' });
const decided = await decisions.locator('tbody tr td:nth-child(3)').allTextContents();
if (decided.join(',') !== 'routing,repeat,flood') fail(`the alert's rule decisions: ${decided.join(',')}`);

// Narrow screens: nothing but the tables (which scroll in their own box) is wider than 420 px.
await page.setViewportSize({ width: 420, height: 900 });
for (const [route, name] of [['/', 'overview-420'], ['/itglue/main', 'mapping-420']]) {
  await page.goto(base + route);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 420) problems.push(`${route} is ${width} px wide at a 420 px window`);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}
await page.setViewportSize({ width: 1280, height: 900 });

// Test connection of ConnectWise from the overview.
await page.goto(base + '/');
await page.locator('tr', { hasText: 'ConnectWise Manage' }).getByRole('button', { name: 'Test connection' }).click();
await expectFlash(/ConnectWise answered/, 'test ConnectWise');

// The mapping screen: import, map the client and a system, remove the system's map, auto-map.
await page.goto(base + '/itglue/main');
await page.getByRole('button', { name: 'Import all' }).click();
// The import runs in the background; the page follows its progress and reloads when it is over.
await page.locator('p.import-result').waitFor();
const imported = (await page.locator('p.import-result').textContent()).trim();
if (!/Imported \d+ organization/.test(imported)) fail(`import: ${imported}`);
console.log(`import: ${imported}`);
const rowOf = (label) => page.locator('tr').filter({ has: page.getByLabel(label) });
const acme = rowOf('Organization for client Acme');
await acme.getByLabel('Organization for client Acme').selectOption({ label: 'Acme Corporation' });
await acme.getByRole('button', { name: 'Map', exact: true }).click();
await expectFlash(/Client Acme is mapped by hand/, 'map Acme');
let lobby = rowOf('Configuration for system WS-LOBBY');
await lobby.getByLabel('Configuration for system WS-LOBBY').selectOption({ index: 0 });
await lobby.getByRole('button', { name: 'Map', exact: true }).click();
await expectFlash(/System WS-LOBBY of Acme is mapped by hand/, 'map WS-LOBBY');
lobby = rowOf('Configuration for system WS-LOBBY');
if (!/mapped · manual/.test(await lobby.textContent())) fail('WS-LOBBY is not marked mapped');
await page.screenshot({ path: path.join(shots, 'mapping-mapped.png'), fullPage: true });
await lobby.getByRole('button', { name: 'Remove map' }).click();
await expectFlash(/System WS-LOBBY of Acme is no longer mapped/, 'unmap WS-LOBBY');
await page.getByRole('button', { name: 'Auto Map now' }).click();
await expectFlash(/Auto Map: clients/, 'auto map');
const dc = await rowOf('Configuration for system ACME-DC01').textContent();
if (!/mapped · auto/.test(dc)) fail(`ACME-DC01 after Auto Map: ${dc}`);
await page.screenshot({ path: path.join(shots, 'mapping-automap.png'), fullPage: true });
// The filter and the search.
await page.getByRole('link', { name: 'failed', exact: true }).click();
const rows = () => page.locator('tbody tr:visible').evaluateAll((trs) => trs.map((tr) => ({
  name: tr.cells[0].textContent.trim(), state: tr.getAttribute('data-state'), text: tr.textContent })));
const failedRows = await rows();
console.log(`failed filter: ${failedRows.map((r) => r.name).join(', ')}`);
if (failedRows.some((row) => row.state !== 'failed')) fail('the failed filter shows an entry that did not fail');
if (!failedRows.some((row) => row.name === 'WS-LOBBY' && /4019/.test(row.text))) fail('WS-LOBBY is not shown failed with its 4019 reason');
await page.getByRole('link', { name: 'all', exact: true }).click();
await page.locator('#map-search').fill('dc01');
const visible = await rows();
if (visible.length !== 1 || visible[0].name !== 'ACME-DC01') fail(`search dc01 shows ${visible.map((r) => r.name)}`);
await page.screenshot({ path: path.join(shots, 'mapping-after.png'), fullPage: true });

lap('mapping done');
// The queue: retry the dead job.
await page.goto(base + '/queue');
await page.locator('tr', { hasText: 'IT Glue answered 503' }).getByRole('button', { name: 'Retry' }).click();
await expectFlash(new RegExp(`Job ${deadJob} \\(publish_report\\) is queued again`), 'retry');

// Reports: generate, preview, publish, download.
await page.goto(base + '/reports');
await page.getByLabel('Client').selectOption('Acme');
await page.getByRole('button', { name: 'Generate' }).click();
await expectFlash(/Report \d+ generated/, 'generate');
const report = Number(page.url().split('/').pop());
const frame = page.frameLocator('iframe.preview');
await frame.locator('svg').first().waitFor();
await page.screenshot({ path: path.join(shots, 'report.png'), fullPage: true });
await audit('report');
await page.getByRole('button', { name: 'Publish to IT Glue' }).click();
await expectFlash(/Publishing report \d+ to IT Glue is queued/, 'publish');
const download = await page.request.get(`${base}/reports/${report}/download`);
if (download.status() !== 200 || !(await download.text()).includes('<svg')) fail('the download is not the report');

// Log out: the console is closed again.
await page.getByRole('button', { name: 'Log out' }).click();
await page.waitForURL(base + '/login');
await page.goto(base + '/queue');
if (!page.url().endsWith('/login')) fail('after logout /queue is still open');

await browser.close();
if (problems.length) {
  for (const problem of problems) console.error(problem);
  process.exit(1);
}
console.log(`RESULT ${JSON.stringify({ report })}`);
