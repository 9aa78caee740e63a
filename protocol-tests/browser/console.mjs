// End-to-end test of the enrolld console in Debian's chromium, driven by playwright-core.
// Run by protocol-tests/console-browser.sh, which starts the server and checks afterwards what
// this script leaves in $WORK (the downloaded PKCS#12 and its passphrase, the revoked serial).
//
// Environment: BASE_URL (https://localhost:<port>), ADMIN_TOKEN, WORK (scratch directory),
// SHOTS (where screenshots go: docs/images/console), CHROMIUM (default /usr/bin/chromium).
//
// Every check prints "ok - ..." or throws; the first failure ends the run with exit status 1.
// axe-core checks every page in both languages; a serious or critical violation fails the run.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env('BASE_URL');
const ADMIN_TOKEN = env('ADMIN_TOKEN');
const WORK = env('WORK');
const SHOTS = env('SHOTS');
const IMPORT_ROWS = Number(process.env.IMPORT_ROWS || 1000);
const AXE = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
mkdirSync(SHOTS, { recursive: true });

function ok(what) {
  console.log(`ok - ${what}`);
}
function check(cond, what, detail = '') {
  if (!cond) throw new Error(`FAIL: ${what}${detail ? `: ${detail}` : ''}`);
  ok(what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // The machine has no network beyond loopback: no background connections, no sandbox (root).
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

// Pages whose Content-Security-Policy refused something, or that logged an error.
const problems = [];

async function newContext(locale) {
  const context = await browser.newContext({
    // The server's certificate is from its own demo CA, which this browser does not know.
    ignoreHTTPSErrors: true,
    locale,
    extraHTTPHeaders: { 'Accept-Language': locale === 'ja-JP' ? 'ja' : 'en' },
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
  });
  context.on('page', (p) => watch(p));
  return context;
}

function watch(page) {
  page.on('console', (m) => {
    // A refused resource is a status the checks look at themselves (403 pages, the favicon a
    // browser asks for on its own); anything else logged as an error is a problem.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      problems.push(`${page.url()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
}

// The language of the page shown, from <html lang>.
async function langOf(page) {
  return page.evaluate(() => document.documentElement.lang);
}

// axe-core on the page as it is: no serious or critical violation (WCAG 2.x A and AA rules).
// Evaluated through the DevTools protocol, which the page's CSP does not govern.
const axeChecked = new Set();
async function accessible(page, name) {
  const lang = await langOf(page);
  const key = `${lang}:${name}`;
  if (axeChecked.has(key)) return;
  axeChecked.add(key);
  // A page that refreshes itself (the import's progress) can reload under the check: then the
  // check runs again on the new page.
  let result;
  for (let attempt = 1; ; attempt++) {
    try {
      await page.waitForLoadState('load');
      await page.evaluate(AXE);
      result = await page.evaluate(async () =>
        // eslint-disable-next-line no-undef
        axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
      );
      break;
    } catch (e) {
      if (attempt >= 5 || !/context was destroyed|navigation/i.test(String(e))) throw e;
    }
  }
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(
    bad.length === 0,
    `axe: no serious violation on ${name} (${lang})`,
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; '),
  );
}

// A screenshot of the whole page to $SHOTS/<lang>-<name>.png, after the accessibility check.
async function shoot(page, name) {
  await accessible(page, name);
  for (let attempt = 1; ; attempt++) {
    try {
      const lang = await langOf(page);
      // Long pages (a 1,000-row import, a full people list) are shown to a height a reader
      // would scroll through once: the top 2,000 pixels.
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      const clip = height > 2000 ? { x: 0, y: 0, width: 1280, height: 2000 } : undefined;
      await page.screenshot({ path: join(SHOTS, `${lang}-${name}.png`), fullPage: true, clip });
      return;
    } catch (e) {
      if (attempt >= 5 || !/context was destroyed|navigation/i.test(String(e))) throw e;
      await page.waitForLoadState('load');
    }
  }
}

// Goes to `path` and expects `status`.
async function visit(page, path, status = 200) {
  const r = await page.goto(BASE + path);
  check(r.status() === status, `GET ${path} answers ${status}`, `got ${r.status()}`);
  return r;
}

// The session's language, switched with the header's language form.
async function switchTo(page, code) {
  await page.selectOption('#lang-select', code);
  await Promise.all([page.waitForNavigation(), page.click('form.lang button[type=submit]')]);
  check((await langOf(page)) === code, `the page is in ${code} after switching`);
}

async function signIn(context, token) {
  const page = await context.newPage();
  await visit(page, '/console/sign-in');
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForNavigation(), page.click('form button[type=submit]')]);
  check(new URL(page.url()).pathname === '/console/', 'signed in: the dashboard', page.url());
  return page;
}

try {
  // --- sign-in page in both languages, before any session ------------------------------------
  const en = await newContext('en-US');
  const ja = await newContext('ja-JP');
  for (const [context, code] of [[en, 'en'], [ja, 'ja']]) {
    const p = await context.newPage();
    await visit(p, '/console/sign-in');
    check((await langOf(p)) === code, `sign-in page follows Accept-Language (${code})`);
    await shoot(p, 'sign-in');
    await p.close();
  }
  await ja.close();

  // A wrong token is refused and creates no session.
  {
    const p = await en.newPage();
    await visit(p, '/console/sign-in');
    await p.fill('input[name=token]', 'not-a-token.at-all');
    await Promise.all([p.waitForNavigation(), p.click('form button[type=submit]')]);
    check(new URL(p.url()).pathname === '/console/sign-in', 'a wrong token stays on the sign-in page');
    const cookies = await en.cookies();
    check(!cookies.some((c) => c.name === 'enrolld_console'), 'a wrong token gets no session cookie');
    await p.close();
  }

  // --- the administrator's session ------------------------------------------------------------
  const page = await signIn(en, ADMIN_TOKEN);
  const session = (await en.cookies()).find((c) => c.name === 'enrolld_console');
  check(
    session && session.httpOnly && session.secure && session.sameSite === 'Strict',
    'the session cookie is HttpOnly, Secure and SameSite=Strict',
    JSON.stringify(session),
  );
  await shoot(page, 'dashboard');

  // Register a person through the form.
  await visit(page, '/console/people');
  await Promise.all([page.waitForNavigation(), page.click('#register-link')]);
  await shoot(page, 'register');
  await page.check('input[name=kind][value=person]');
  await page.fill('#reg-external_id', 'E-2001');
  await page.fill('#reg-display_name', 'Taro Browser');
  await page.fill('#reg-email', 'taro@example.com');
  await page.fill('#reg-department', 'Engineering');
  await Promise.all([page.waitForNavigation(), page.click('#register-submit')]);
  const subjectPath = new URL(page.url()).pathname;
  check(/^\/console\/people\/[^/]+$/.test(subjectPath), 'registered: the subject page', page.url());
  check((await page.textContent('body')).includes('Taro Browser'), 'the subject page names the person');
  await shoot(page, 'subject');

  // A pickup link, opened in a second browser context (the person's browser, no session).
  await Promise.all([
    page.waitForNavigation(),
    page.click('form:has(input[name=kind][value=pickup]) button[type=submit]'),
  ]);
  const pickupUrl = (await page.locator('dl.secret code').allTextContents()).find((t) => t.includes('/pickup/'));
  check(Boolean(pickupUrl), 'the pickup link is shown once', await page.textContent('dl.secret'));
  await shoot(page, 'credential');
  {
    const person = await newContext('en-US');
    const p = await person.newPage();
    const r = await p.goto(pickupUrl);
    check(r.status() === 200, 'the person opens the pickup link');
    await shoot(p, 'pickup');
    await Promise.all([p.waitForNavigation(), p.click('form:has(input[value=generate]) button[type=submit]')]);
    const passphrase = (await p.textContent('#passphrase')).trim();
    check(passphrase.length >= 12, 'the passphrase is shown', passphrase);
    await shoot(p, 'pickup-done');
    const [download] = await Promise.all([p.waitForEvent('download'), p.click('#download')]);
    check(download.suggestedFilename() === 'certificate.p12', 'the download is certificate.p12', download.suggestedFilename());
    await download.saveAs(join(WORK, 'pickup.p12'));
    writeFileSync(join(WORK, 'pickup.pass'), passphrase);
    ok('the PKCS#12 was downloaded');
    await person.close();
  }

  // The person's certificate, from the subject page; revoked with a reason.
  await visit(page, subjectPath);
  const certLink = page.locator('a[href^="/console/certificates/"]').first();
  check((await certLink.count()) === 1, 'the subject page lists the new certificate');
  await Promise.all([page.waitForNavigation(), certLink.click()]);
  const serial = (await page.textContent('tr[data-key=serial] td')).trim();
  await shoot(page, 'certificate');
  await page.selectOption('#reason', 'keyCompromise');
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/revoke"] button[type=submit]')]);
  check(
    (await page.textContent('tr[data-key=status] td')).trim() === 'Revoked',
    'the certificate page says revoked',
    await page.textContent('tr[data-key=status] td'),
  );
  writeFileSync(join(WORK, 'revoked.serial'), serial);
  await visit(page, '/console/certificates');
  await shoot(page, 'certificates');

  // The approval a curl client waits for (protocol-tests/console-browser.sh polls in the
  // background): it appears on the approvals page and is approved there.
  {
    const deadline = Date.now() + 60_000;
    let row;
    for (;;) {
      await visit(page, '/console/approvals');
      row = page.locator('tr', { hasText: 'vip-laptop' });
      if ((await row.count()) > 0) break;
      if (Date.now() > deadline) throw new Error('FAIL: the waiting EST enrolment never showed on the approvals page');
      await page.waitForTimeout(500);
    }
    ok('the waiting EST enrolment is on the approvals page');
    await shoot(page, 'approvals');
    await Promise.all([page.waitForNavigation(), row.locator('form[action$="/approve"] button').click()]);
    check((await page.locator('tr', { hasText: 'vip-laptop' }).count()) === 0, 'approved: no longer waiting');
    writeFileSync(join(WORK, 'approved'), 'yes');
  }

  // Bulk import with a dry run first, then the real run with its progress bar.
  {
    await visit(page, '/console/import');
    await shoot(page, 'import');
    const rows = ['kind,external_id,display_name,email,department'];
    for (let i = 0; i < IMPORT_ROWS; i++) {
      rows.push(`person,IMP-${String(i).padStart(5, '0')},Person ${i},p${i}@example.com,Dept ${i % 7}`);
    }
    writeFileSync(join(WORK, 'import.csv'), rows.join('\n') + '\n');
    await page.setInputFiles('input[name=file]', join(WORK, 'import.csv'));
    await Promise.all([page.waitForNavigation(), page.click('#import-form button[type=submit]')]);
    check((await page.locator('#import-dryrun tbody tr').count()) >= 1, 'the dry run lists the rows');
    await shoot(page, 'import-dryrun');
    await Promise.all([page.waitForNavigation(), page.click('#import-start')]);
    const progress = page.locator('#import-progress');
    check((await progress.count()) === 1, 'the import page shows a progress bar');
    await accessible(page, 'import-progress');
    // The page refreshes itself (meta refresh) until the job is done.
    const deadline = Date.now() + 180_000;
    let seen = [];
    for (;;) {
      try {
        await page.waitForLoadState('load');
        if ((await page.locator('#import-results').count()) > 0) break;
        const v = await progress.getAttribute('value', { timeout: 1000 });
        if (v !== null) seen.push(Number(v));
      } catch (e) {
        // The page reloaded under the look; look again.
      }
      if (Date.now() > deadline) throw new Error(`FAIL: the import did not finish; progress seen: ${seen.join(',')}`);
      await page.waitForTimeout(300);
    }
    check(seen.every((v, i) => i === 0 || v >= seen[i - 1]), 'the progress bar never goes back', seen.join(','));
    console.log(`# progress values seen while the job ran: ${seen.join(', ') || '(done at once)'}`);
    const max = Number(await progress.getAttribute('max'));
    const value = Number(await progress.getAttribute('value'));
    check(max === IMPORT_ROWS && value === max, `the progress bar reached 100 % (${value}/${max})`);
    check((await page.textContent('body')).includes('100'), 'the page says 100 %');
    await shoot(page, 'import-results');
  }

  // Off-board the person, through the confirmation that says what will be revoked.
  await visit(page, subjectPath);
  await Promise.all([page.waitForNavigation(), page.click(`a[href="${subjectPath}/offboard"]`)]);
  await shoot(page, 'offboard');
  await Promise.all([
    page.waitForNavigation(),
    page.click('form:has(input[name=status][value=offboarded]) button[type=submit]'),
  ]);
  check(page.url().includes('notice=offboarded'), 'off-boarded', page.url());

  // The audit log and its chain.
  await visit(page, '/console/audit');
  await shoot(page, 'audit');
  await Promise.all([page.waitForNavigation(), page.click('a.verify')]);
  check((await page.locator('[data-key="verify.ok"]').count()) === 1, 'the audit chain verifies');
  await shoot(page, 'audit-verify');

  // A read-only token, created on the tokens page and shown once.
  await visit(page, '/console/tokens');
  await shoot(page, 'tokens');
  await page.fill('#t-name', 'auditor');
  await page.check('#s-read');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/console/tokens"] button[type=submit]')]);
  const readToken = await page.inputValue('#new-token');
  check(/^[^.\s]+\.[^.\s]+$/.test(readToken), 'the new token is shown once', readToken);
  await shoot(page, 'token-created');

  await visit(page, '/console/ca');
  await shoot(page, 'ca');
  await visit(page, '/console/people');
  await shoot(page, 'people');

  // --- the same pages in Japanese -------------------------------------------------------------
  await visit(page, '/console/');
  await switchTo(page, 'ja');
  const pages = [
    ['/console/', 'dashboard'],
    ['/console/people', 'people'],
    ['/console/people/new', 'register'],
    [subjectPath, 'subject'],
    [`/console/certificates/${serial}`, 'certificate'],
    ['/console/certificates', 'certificates'],
    ['/console/approvals?status=approved', 'approvals'],
    ['/console/import', 'import'],
    ['/console/audit', 'audit'],
    ['/console/audit/verify', 'audit-verify'],
    ['/console/tokens', 'tokens'],
    ['/console/ca', 'ca'],
  ];
  for (const [path, name] of pages) {
    await visit(page, path);
    check((await langOf(page)) === 'ja', `${path} is in Japanese`);
    await shoot(page, name);
  }
  // The pages that show something once, made again in Japanese.
  await visit(page, '/console/people/new');
  await page.fill('#reg-external_id', 'E-2002');
  await page.fill('#reg-display_name', '山田 花子');
  await page.fill('#reg-email', 'hanako@example.com');
  await Promise.all([page.waitForNavigation(), page.click('#register-submit')]);
  const jaSubject = new URL(page.url()).pathname;
  await Promise.all([
    page.waitForNavigation(),
    page.click('form:has(input[name=kind][value=pickup]) button[type=submit]'),
  ]);
  const jaPickup = (await page.locator('dl.secret code').allTextContents()).find((t) => t.includes('/pickup/'));
  await shoot(page, 'credential');
  {
    const person = await newContext('ja-JP');
    const p = await person.newPage();
    await p.goto(jaPickup);
    check((await langOf(p)) === 'ja', 'the pickup page follows the person\'s language');
    await shoot(p, 'pickup');
    await Promise.all([p.waitForNavigation(), p.click('form:has(input[value=generate]) button[type=submit]')]);
    await shoot(p, 'pickup-done');
    await person.close();
  }
  await visit(page, `${jaSubject}/offboard`);
  await shoot(page, 'offboard');
  await visit(page, '/console/tokens');
  await page.fill('#t-name', '監査');
  await page.check('#s-read');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/console/tokens"] button[type=submit]')]);
  await shoot(page, 'token-created');
  {
  await visit(page, '/console/import');
  await page.fill('textarea[name=csv]', 'kind,external_id,display_name\nperson,JA-1,佐藤 一郎\nperson,,名前なし\n');
  await Promise.all([page.waitForNavigation(), page.click('#import-form button[type=submit]')]);
  await shoot(page, 'import-dryrun');
  await Promise.all([page.waitForNavigation(), page.click('#import-start')]);
  await accessible(page, 'import-progress');
  await page.waitForSelector('#import-results', { timeout: 60_000 });
  check((await langOf(page)) === 'ja', 'the import results are in Japanese');
  await shoot(page, 'import-results');
  }
  await switchTo(page, 'en');
  check((await langOf(page)) === 'en', 'and back to English');

  // --- a read token sees no button that changes anything -------------------------------------
  {
    const reader = await newContext('en-US');
    const p = await signIn(reader, readToken.trim());
    for (const path of ['/console/', '/console/people', subjectPath, `/console/certificates/${serial}`,
      '/console/certificates', '/console/approvals', '/console/audit', '/console/ca']) {
      await visit(p, path);
      const actions = await p.$$eval('form[method=post]', (fs) => fs.map((f) => new URL(f.action).pathname));
      const changing = actions.filter((a) => a !== '/console/sign-out' && a !== '/console/language');
      check(changing.length === 0, `read token: no changing form on ${path}`, changing.join(', '));
    }
    await visit(p, '/console/tokens', 403);
    // Forged POSTs with the reader's own, valid CSRF token are refused.
    await visit(p, subjectPath);
    const csrf = await p.getAttribute('input[name=csrf]', 'value');
    const id = subjectPath.split('/').pop();
    for (const [path, form] of [
      [`/console/people/${id}/status`, { status: 'suspended' }],
      [`/console/people/${id}/credentials`, { kind: 'pickup' }],
      [`/console/certificates/${serial}/revoke`, { reason: 'superseded' }],
      ['/console/tokens', { name: 'x', scope: 'admin' }],
      ['/console/people/new', { external_id: 'FORGED-1' }],
    ]) {
      const r = await p.request.post(BASE + path, { form: { csrf, ...form }, maxRedirects: 0 });
      check(r.status() === 403, `read token: a forged POST ${path} is refused`, String(r.status()));
    }
    await reader.close();
  }

  // --- a POST without the CSRF token is refused, even with the admin's session ----------------
  {
    const id = subjectPath.split('/').pop();
    const r = await page.request.post(`${BASE}/console/people/${id}/credentials`, {
      form: { kind: 'pickup' },
      maxRedirects: 0,
    });
    check(r.status() === 403, 'a POST without the CSRF token is refused', String(r.status()));
  }

  check(problems.length === 0, 'no page logged an error or a CSP violation', problems.join('\n'));
  await browser.close();
  console.log('all browser checks passed');
} catch (e) {
  console.error(e.message || e);
  await browser.close();
  process.exit(1);
}
