// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium),
// driven by playwright-core. tests/fleet/dashboard_test.cc starts the fleet
// (PostgreSQL tenants, an agent, a controller with auth.toml) and runs this
// with its addresses in the environment; rollouts are started with the real
// fleetctl. Exit 0 when every check holds; otherwise the first that failed.
//
//   DASHBOARD_URL, CONTROLLER, FLEETCTL, VIEWER_TOKEN, OPERATOR_TOKEN,
//   TENANTS (how many), FAILING_VERSIONS (a versions dir whose new head
//   fails on tenant FAILING_TENANT), SHOTS (where screenshots go),
//   CHROMIUM (default /usr/bin/chromium)
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = env('DASHBOARD_URL');
const shots = env('SHOTS');
const tenants = Number(env('TENANTS'));
const failingTenant = env('FAILING_TENANT');

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok ${what}`);
}

// fleetctl as an operator; returns stdout.
function fleetctl(...args) {
  return execFileSync(env('FLEETCTL'), [...args, '--controller', env('CONTROLLER'), '--insecure'], {
    env: { ...process.env, FLEET_TOKEN: env('OPERATOR_TOKEN') },
    encoding: 'utf8',
  });
}

const text = (page, selector) => page.locator(selector).first().innerText({ timeout: 30000 });

async function waitForText(page, selector, want, timeout = 60000) {
  await page.waitForFunction(([sel, w]) => {
    const e = document.querySelector(sel);
    return e !== null && e.textContent.trim() === w;
  }, [selector, want], { timeout });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // As root in CI Chromium needs --no-sandbox.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const violations = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) violations.push(m.text());
  });

  // No cookie: the sign-in page, for the pages and for the API.
  let res = await page.goto(url + '/');
  check(res.status() === 401, 'no cookie gets 401 and the sign-in page');
  check(await page.locator('form#signin').count() === 1, 'the sign-in form is shown');
  const api = await page.request.get(url + '/api/v1/status');
  check(api.status() === 401, 'the API without a session answers 401');
  check(/script-src 'self'/.test(res.headers()['content-security-policy'] || ''),
    'a strict Content-Security-Policy is sent');

  // A wrong token: the sign-in page again, with why.
  await page.fill('#token', 'not-a-token');
  await page.click('button[type=submit]');
  await page.waitForSelector('#message');
  check((await text(page, '#message')).includes('not one this controller knows'),
    'a wrong token gets the sign-in page and a message');
  check((await context.cookies()).every((c) => c.name !== 'fleet_session'), 'a wrong token gets no cookie');

  // A viewer's token: the fleet page.
  await page.fill('#token', env('VIEWER_TOKEN'));
  await page.click('button[type=submit]');
  await page.waitForSelector('#tenants .tile');
  const cookie = (await context.cookies()).find((c) => c.name === 'fleet_session');
  check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict');
  await page.waitForFunction((n) => document.querySelectorAll('#tenants .tile').length === n, tenants);
  check(true, `the fleet page shows all ${tenants} tenants`);
  check(await text(page, '#count-all .n') === String(tenants), 'the tenant count is right');
  check(await text(page, '#count-lagging .n') === String(tenants), 'every tenant is counted lagging');
  await page.screenshot({ path: `${shots}/fleet.png`, fullPage: true });

  // Filters: by id.
  await page.fill('#filter-id', failingTenant);
  check(await page.locator('#tenants .tile').count() === 1, 'the id filter narrows the grid');
  await page.fill('#filter-id', '');

  // A rollout started with fleetctl, gated after its canary: its page
  // shows it paused, then, after fleetctl resumes it, succeeded - without a
  // reload.
  const started = JSON.parse(fleetctl('rollout', 'start', '--to', 'head', '--canary', '1',
    '--waves', '100%', '--pause-after', 'canary', '-o', 'json'));
  await page.goto(url + '/#/rollouts');
  await page.waitForSelector(`#rollouts tr[data-rollout="${started.id}"]`);
  check(true, 'the rollout appears in the list');
  await page.click(`#rollouts tr[data-rollout="${started.id}"] a`);
  await waitForText(page, '#rollout-state', 'paused');
  check(true, 'the rollout page shows the gate holding (paused)');
  await page.evaluate(() => { window.stillTheSamePage = true; });
  fleetctl('rollout', 'resume', started.id);
  await waitForText(page, '#rollout-state', 'succeeded');
  check(await page.evaluate(() => window.stillTheSamePage === true), 'it reached succeeded without a reload');
  check(await page.locator('#rollout-tenants tr[data-state="succeeded"]').count() === tenants,
    'every tenant row says succeeded');
  await page.screenshot({ path: `${shots}/rollout.png`, fullPage: true });

  // A revision that fails on one tenant: the rollout halts, and its page
  // names the tenant and PostgreSQL's error with file and line.
  fleetctl('bundle', 'push', env('FAILING_VERSIONS'));
  const halted = JSON.parse(fleetctl('rollout', 'start', '--to', 'head', '--canary', '0',
    '--waves', '100%', '--on-failure', 'halt', '-o', 'json'));
  await page.goto(url + `/#/rollout/${halted.id}`);
  await waitForText(page, '#rollout-state', 'halted');
  const row = page.locator(`#rollout-tenants tr[data-tenant="${failingTenant}"]`);
  check(await row.getAttribute('data-state') === 'failed', `${failingTenant} is shown failed`);
  const error = await row.locator('td.err').innerText();
  check(/tickets_subject_length/.test(error) && /\.sql:\d+/.test(error),
    'its error names the constraint, the file and the line');
  await page.screenshot({ path: `${shots}/halted.png`, fullPage: true });

  // The tenant's page: its history across both rollouts.
  await row.locator('a').first().click();
  await page.waitForSelector('#history tr td');
  check(await page.locator('#history tr').count() >= 3, 'the tenant page lists its history');
  await page.click('#check-drift');
  await page.waitForFunction(() => !/checking|not checked/.test(document.querySelector('#schema-drift').textContent));
  check((await text(page, '#schema-drift')).startsWith('none'), 'its schema drift is checked on demand: none');
  await page.screenshot({ path: `${shots}/tenant.png`, fullPage: true });

  // Signing out ends the session.
  await page.goto(url + '/');
  await page.click('header button[type=submit]');
  await page.waitForSelector('form#signin');
  res = await page.goto(url + '/');
  check(res.status() === 401, 'after signing out the sign-in page again');

  check(violations.length === 0, 'no Content-Security-Policy violation: ' + violations.join(' | '));
} finally {
  await browser.close();
}
