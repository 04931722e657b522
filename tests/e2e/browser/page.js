// Opens fakeapp's product page in headless Chromium (Debian's chromium, driven by
// puppeteer-core), creates products through its form, and records what a person would see:
// the browser console, the page's counts (window.relaylab), the list, a screenshot.
//   node page.js URL OUTDIR [PRODUCTS]
// Writes OUTDIR/result.json (status, console lines, window.relaylab's counts as state, the
// seed's warning lines, missing products, the pods that served the form's requests) and
// OUTDIR/screenshot.png, and prints a one-line summary.
// Exit 0 when the page was driven (whatever it showed), 3 when Chromium cannot start
// (OUTDIR/result.json then says why), 1 on any other failure.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const [url, outdir, nProducts = '6'] = process.argv.slice(2);
const CHROME = process.env.CHROME_PATH || ['/usr/bin/chromium', '/usr/bin/chromium-browser']
  .find((p) => fs.existsSync(p));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  fs.mkdirSync(outdir, { recursive: true });
  const result = { url, started: new Date().toISOString(), console: [], requests_failed: [] };
  const write = () => fs.writeFileSync(path.join(outdir, 'result.json'), JSON.stringify(result, null, 2));
  let puppeteer;
  try {
    // Installed by make deps beside the other e2e npm packages.
    puppeteer = require(path.join(__dirname, '..', 'node', 'node_modules', 'puppeteer-core'));
  } catch (e) {
    result.error = `puppeteer-core is not installed (make deps): ${e.message}`;
    write();
    return 1;
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'relaylab-chromium-'));
  let browser;
  try {
    if (!CHROME) throw new Error('no chromium binary (make deps installs Debian\'s chromium)');
    browser = await puppeteer.launch({
      executablePath: CHROME,
      userDataDir: profile,
      headless: true,
      timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
        '--disable-dev-shm-usage'],
    });
  } catch (e) {
    result.skipped = `chromium cannot start: ${e.message.split('\n')[0]}`;
    write();
    fs.rmSync(profile, { recursive: true, force: true });
    return 3;
  }
  try {
    result.browser = await browser.version();
    const page = await browser.newPage();
    await page.setViewport({ width: 900, height: 700 });
    const t0 = Date.now();
    page.on('console', (m) => result.console.push({ t: Date.now() - t0, type: m.type(), text: m.text() }));
    page.on('pageerror', (e) => result.console.push({ t: Date.now() - t0, type: 'pageerror', text: e.message }));
    page.on('requestfailed', (r) => result.requests_failed.push(`${r.method()} ${r.url()} ${r.failure() && r.failure().errorText}`));
    // Which app answered each product the form created (X-Served-By), as loadgen counts pods.
    result.served_by = {};
    page.on('response', (r) => {
      const pod = r.headers()['x-served-by'];
      if (pod && r.request().method() === 'POST' && new URL(r.url()).pathname === '/products') {
        result.served_by[pod] = (result.served_by[pod] || 0) + 1;
      }
    });
    const resp = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 15000 });
    result.status = resp ? resp.status() : null;
    // Let Socket.IO connect (and, where it can, upgrade) as a person's browser would.
    await page.waitForFunction(() => window.relaylab && window.relaylab.connects > 0, { timeout: 6000 })
      .catch(() => {});
    await sleep(1500);
    result.before = await page.evaluate(() => Object.assign({}, window.relaylab));
    for (let i = 0; i < Number(nProducts); i++) {
      await page.type('input[name=name]', `browser product ${i + 1}`);
      await page.type('input[name=price]', String(10 + i));
      await page.click('button[type=submit]');
      await page.waitForFunction((n) => window.relaylab.created + window.relaylab.errors.length >= n,
        { timeout: 8000 }, i + 1).catch(() => {});
      await sleep(250);
    }
    // Events have had time to arrive: a product missing now is missing for the person too.
    await page.waitForFunction(() => window.relaylab.live >= window.relaylab.created, { timeout: 4000 })
      .catch(() => {});
    await sleep(500);
    const st = await page.evaluate(() => Object.assign({}, window.relaylab, { errors: window.relaylab.errors.slice(0, 20) }));
    result.state = st;
    result.items = await page.$$eval('#products li', (lis) => lis.map((li) => ({ cls: li.className, text: li.textContent })));
    result.status_line = await page.$eval('#status', (e) => e.textContent);
    await page.screenshot({ path: path.join(outdir, 'screenshot.png'), fullPage: true });
    result.screenshot = path.join(outdir, 'screenshot.png');
    const texts = result.console.map((c) => c.text);
    result.seed_warning = texts.filter((t) => /WebSocket is closed before the connection is established|Session ID unknown|status of 400|Unexpected response code: 400/.test(t)).length;
    result.missing = Math.max(0, (st.created || 0) - (st.live || 0));
    write();
    console.log(`page ${url}: created=${st.created} live=${st.live} missing=${result.missing} transport=${st.transport} ` +
      `connects=${st.connects} console=${result.console.length} seed_warning_lines=${result.seed_warning}`);
    return 0;
  } finally {
    await browser.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then((rc) => process.exit(rc), (e) => { console.error(`page.js: ${e.stack}`); process.exit(1); });
