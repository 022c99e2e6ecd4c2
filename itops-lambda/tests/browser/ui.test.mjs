// The web UI in a real browser (Chromium through playwright-core) against a running
// `itops serve`: sign in with the printed link, inject a fault in the simulator, create an
// incident, run its workflow while the timeline grows live, see the plan on the approvals
// page, approve it, watch it end, add a note, filter the timeline and the list, open the
// approval's link, check that incident text is never markup, and sign out.
//
//   ITOPS_URL=http://127.0.0.1:PORT ITOPS_TOKEN=... node itops-lambda/tests/browser/ui.test.mjs
//
// ITOPS_CHROMIUM: the browser (default /usr/bin/chromium); ITOPS_ARTIFACTS: where the
// screenshots go (default target/test-artifacts). Exits non-zero with a message on failure.
// itops-lambda/tests/browser.rs starts the server and runs this.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.ITOPS_URL || '').replace(/\/$/, '');
const TOKEN = process.env.ITOPS_TOKEN || '';
const CHROMIUM = process.env.ITOPS_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.ITOPS_ARTIFACTS || 'target/test-artifacts';
const WORKFLOW_TIMEOUT = 45_000;
const STEP_TIMEOUT = 15_000;
const XSS_TITLE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

if (!BASE || !TOKEN) {
  console.error('ui.test: set ITOPS_URL (the server, e.g. http://127.0.0.1:8080) and ITOPS_TOKEN (an admin token)');
  process.exit(2);
}

const started = Date.now();
const log = (msg) => console.log(`[ui.test +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}

fs.mkdirSync(ARTIFACTS, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'itops-ui-test-'));
let context;
let page;
const pageErrors = [];
const consoleErrors = [];
const foreignRequests = [];

// A hard limit, whatever hangs.
const watchdog = setTimeout(() => {
  console.error('ui.test FAILED: the test did not finish within 120 s');
  process.exit(1);
}, 120_000);

async function shot(name) {
  const file = path.join(ARTIFACTS, `ui-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

/** The timeline entries on the incident page: kind and seq, in page order. */
async function timelineEntries() {
  return page.$$eval('[data-testid="timeline"] > li', (lis) =>
    lis.map((li) => ({ kind: li.dataset.kind, seq: Number(li.dataset.seq), text: li.querySelector('.tl-summary')?.textContent || '' })));
}

async function incidentStatus() {
  return page.getAttribute('[data-testid="incident-status"]', 'data-status');
}

async function waitForKind(kind, timeout, afterSeq = 0) {
  await page.waitForFunction(
    ([k, after]) => [...document.querySelectorAll(`[data-testid="timeline"] > li[data-kind="${k}"]`)]
      .some((li) => Number(li.dataset.seq) > after),
    [kind, afterSeq],
    { timeout, polling: 100 },
  ).catch(() => { throw new Failure(`no '${kind}' entry (after seq ${afterSeq}) appeared on the timeline within ${timeout / 1000} s`); });
}

async function createIncident({ title, description, severity, services }) {
  await page.goto(`${BASE}/#/`);
  await page.click('[data-testid="new-incident"]');
  await page.fill('[data-testid="create-title"]', title);
  await page.fill('[data-testid="create-description"]', description);
  await page.selectOption('[data-testid="create-severity"]', severity);
  await page.fill('[data-testid="create-services"]', services.join(', '));
  await page.click('[data-testid="create-submit"]');
  await page.waitForURL(/#\/incidents\/[^/?]+$/, { timeout: STEP_TIMEOUT })
    .catch(async () => { throw new Failure(`creating the incident did not open its page; banner: ${await bannerText()}`); });
  await page.waitForSelector('[data-testid="incident-title"]', { timeout: STEP_TIMEOUT });
  return decodeURIComponent(page.url().split('#/incidents/')[1]);
}

async function bannerText() {
  const banner = await page.$('[data-testid="banner"]:not([hidden])');
  return banner ? (await banner.textContent()).trim() : '(none)';
}

async function run() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
  });
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (e) => pageErrors.push(String(e?.stack || e)));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${BASE}/`) && !url.startsWith('data:') && url !== BASE) foreignRequests.push(url);
  });

  // (1) The link the server prints: the token moves to storage and out of the address bar.
  log(`open ${BASE}/#token=…`);
  await page.goto(`${BASE}/#token=${encodeURIComponent(TOKEN)}`);
  await page.waitForSelector('[data-testid="user"] [data-testid="role"]', { timeout: STEP_TIMEOUT })
    .catch(async () => { throw new Failure(`signing in with the #token= link failed; banner: ${await bannerText()}`); });
  const role = (await page.textContent('[data-testid="role"]')).trim();
  check(['admin', 'operator'].includes(role), `the token's role is '${role}', not admin or operator`);
  check(!page.url().includes(TOKEN), `the token is still in the address bar: ${page.url()}`);
  const stored = await page.evaluate(() => ({
    session: sessionStorage.getItem('itops.token'),
    local: localStorage.getItem('itops.token'),
  }));
  check(stored.session === TOKEN, 'the token was not kept in sessionStorage itops.token');
  check(stored.local === null, 'the token was kept in localStorage, beyond the session');
  await page.waitForSelector('[data-testid="incident-table"]');
  await shot('list');

  // With the simulator, break something first through its panel, so that the agents have a
  // real fault to find and a fix that needs approval (a memory leak: restart the service).
  let service = 'checkout';
  await page.waitForSelector('body[data-simulator]', { state: 'attached', timeout: STEP_TIMEOUT });
  if (await page.getAttribute('body', 'data-simulator') === 'on') {
    await page.goto(`${BASE}/#/simulator`);
    await page.waitForSelector('[data-testid="sim-inject"]', { timeout: STEP_TIMEOUT });
    const services = await page.$$eval('[data-testid="sim-service"] option', (os) => os.map((o) => o.value));
    const kinds = await page.$$eval('[data-testid="sim-kind"] option', (os) => os.map((o) => o.value));
    check(kinds.includes('memory_leak'), `the simulator offers no memory_leak fault (${kinds.join(', ')})`);
    if (!services.includes(service)) service = services[0];
    await page.selectOption('[data-testid="sim-kind"]', 'memory_leak');
    await page.selectOption('[data-testid="sim-service"]', service);
    await page.fill('[data-testid="sim-severity"]', '1');
    await page.click('[data-testid="sim-inject"]');
    await page.waitForSelector('[data-testid="simulator-result"] .alert', { timeout: STEP_TIMEOUT })
      .catch(async () => { throw new Failure(`injecting a fault showed no result; banner: ${await bannerText()}`); });
    log(`simulator: ${(await page.textContent('[data-testid="simulator-result"]')).trim()}`);
    await shot('simulator');
  } else {
    log('the server runs no simulator: the workflow works on whatever telemetry it has');
  }

  // (2) Create an incident through the form.
  const title = `${service}: latency above 2 s and errors (${new Date().toISOString().slice(11, 19)})`;
  const id = await createIncident({
    title,
    description: `Latency of ${service} rose from 300 ms to over 2 s; customers report slow pages and errors.`,
    severity: 'high',
    services: [service],
  });
  log(`created incident ${id}`);
  check((await page.textContent('[data-testid="incident-title"]')).trim() === title, 'the incident page shows a different title');
  check(await incidentStatus() === 'open', `a new incident's status is '${await incidentStatus()}', not open`);
  await page.waitForSelector('[data-testid="timeline"] > li[data-kind="created"]', { timeout: STEP_TIMEOUT })
    .catch(() => { throw new Failure('the new incident has no "created" entry on its timeline'); });

  // (3) Start the workflow; entries must arrive without a reload.
  await page.evaluate(() => { window.__sameDocument = true; });
  const before = (await timelineEntries()).length;
  await page.click('[data-testid="start-workflow"]');
  log('workflow started');
  await waitForKind('triage', WORKFLOW_TIMEOUT);
  log('triage entry arrived');
  await waitForKind('finding', WORKFLOW_TIMEOUT);
  log('finding entry arrived');
  check(await page.evaluate(() => window.__sameDocument === true), 'the page reloaded while the timeline grew');
  check((await timelineEntries()).length > before + 1, 'the timeline did not grow after the workflow started');
  await shot('incident-live');

  // (4) The plan waits for approval: approve it in the UI.
  const waitStart = Date.now();
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-testid="incident-status"]')?.dataset.status;
    return s === 'awaiting_approval' || s === 'resolved' || s === 'escalated';
  }, null, { timeout: WORKFLOW_TIMEOUT, polling: 100 })
    .catch(async () => { throw new Failure(`the workflow neither asked for approval nor ended within ${WORKFLOW_TIMEOUT / 1000} s (status '${await incidentStatus()}')`); });
  const status = await incidentStatus();
  if (status !== 'awaiting_approval') {
    const entries = await timelineEntries();
    const last = entries.filter((e) => !['thought', 'tool_call', 'observation'].includes(e.kind)).slice(-6)
      .map((e) => `${e.kind}: ${e.text}`).join('\n  ');
    throw new Failure(`the workflow ended '${status}' without asking for approval; last entries:\n  ${last}`);
  }
  await page.waitForSelector('[data-testid="approve"]', { timeout: STEP_TIMEOUT })
    .catch(() => { throw new Failure('the incident awaits approval but the page shows no Approve button'); });
  log(`awaiting approval after ${((Date.now() - waitStart) / 1000).toFixed(1)} s`);
  check(await page.isVisible('[data-testid="plan-actions"]'), 'the plan\'s actions table is not shown');
  await shot('approval');

  // The approvals page lists the plan waiting, and the navigation counts it.
  await page.click('[data-nav="approvals"]');
  await page.waitForSelector('[data-testid="approval-summary"]', { timeout: STEP_TIMEOUT })
    .catch(async () => { throw new Failure(`the approvals page lists nothing; banner: ${await bannerText()}`); });
  const count = await page.textContent('#approval-count');
  check(Number(count) >= 1 && await page.isVisible('#approval-count'), `the navigation counts '${count}' approvals waiting`);
  const toIncident = await page.$$(`#app a[href="#/incidents/${encodeURIComponent(id)}"]`);
  check(toIncident.length > 0, 'the approvals page has no link to the incident');
  await shot('approvals');
  await toIncident[toIncident.length - 1].click();
  await page.waitForSelector('[data-testid="approve"]', { timeout: STEP_TIMEOUT })
    .catch(() => { throw new Failure('back on the incident page, there is no Approve button'); });
  const approvedAfter = Math.max(0, ...(await timelineEntries()).map((e) => e.seq));
  await page.fill('[data-testid="approval-comment"]', 'approved from the browser test');
  await page.click('[data-testid="approve"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="approval-status"]')?.textContent.trim() === 'approved',
    null, { timeout: STEP_TIMEOUT, polling: 100 })
    .catch(async () => { throw new Failure(`the approval did not show as approved; banner: ${await bannerText()}`); });
  log('approved');

  // (5) It executes and verifies, then ends resolved or escalated.
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-testid="incident-status"]')?.dataset.status;
    return s === 'resolved' || s === 'escalated';
  }, null, { timeout: WORKFLOW_TIMEOUT, polling: 100 })
    .catch(async () => { throw new Failure(`the incident did not reach resolved or escalated within ${WORKFLOW_TIMEOUT / 1000} s after approval (status '${await incidentStatus()}')`); });
  const final = await incidentStatus();
  log(`incident ${final}`);
  await waitForKind('action', STEP_TIMEOUT, approvedAfter);
  await waitForKind('verification', STEP_TIMEOUT, approvedAfter);
  const after = (await timelineEntries()).filter((e) => e.seq > approvedAfter);
  const firstAction = after.find((e) => e.kind === 'action');
  const verification = after.find((e) => e.kind === 'verification');
  check(firstAction.seq < verification.seq, 'the verification entry came before the action entry');
  await page.waitForSelector('[data-testid="verification"]', { timeout: STEP_TIMEOUT })
    .catch(() => { throw new Failure('the workflow panel shows no verification'); });
  check(await page.evaluate(() => window.__sameDocument === true), 'the page reloaded during the workflow');
  log(`action: ${firstAction.text}`);
  log(`verification: ${verification.text}`);
  await shot('incident-final');

  // A note joins the timeline; the "key events" filter hides the agents' reasoning steps.
  const noteText = `checked by the browser test ${Date.now()}`;
  await page.fill('[data-testid="note-text"]', noteText);
  await page.click('[data-testid="note-submit"]');
  await page.waitForFunction((text) => [...document.querySelectorAll('[data-testid="timeline"] > li[data-kind="note"] .tl-summary')]
    .some((el) => el.textContent === text), noteText, { timeout: STEP_TIMEOUT, polling: 100 })
    .catch(async () => { throw new Failure(`the note did not appear on the timeline; banner: ${await bannerText()}`); });
  const steps = '[data-testid="timeline"] > li:is([data-kind="thought"], [data-kind="tool_call"], [data-kind="observation"])';
  check((await page.$$(steps)).length > 0, 'the timeline shows no reasoning steps of the agents');
  await page.selectOption('[data-testid="timeline-filter"]', 'key');
  check(await page.$$eval(steps, (lis) => lis.every((li) => li.hidden)), 'the "key events" filter shows reasoning steps');
  check(await page.isVisible('[data-testid="timeline"] > li[data-kind="verification"]'), 'the "key events" filter hides the verification');
  await page.selectOption('[data-testid="timeline-filter"]', 'all');
  check(await page.$$eval(steps, (lis) => lis.every((li) => !li.hidden)), 'the "all entries" filter still hides steps');

  // The approval's own page (as the notification's link opens it), signed in: decided.
  const approvals = await page.evaluate(async ([token, incident]) => {
    const res = await fetch(`/api/approvals?incident_id=${encodeURIComponent(incident)}`, { headers: { Authorization: `Bearer ${token}` } });
    return res.json();
  }, [TOKEN, id]);
  check(Array.isArray(approvals) && approvals.length > 0, `the API lists no approval of the incident: ${JSON.stringify(approvals)}`);
  await page.goto(`${BASE}/#/approvals/${encodeURIComponent(approvals[0].id)}`);
  await page.waitForFunction(() => document.querySelector('[data-testid="approval-card"] [data-testid="approval-status"]')?.textContent.trim() === 'approved',
    null, { timeout: STEP_TIMEOUT, polling: 100 })
    .catch(async () => { throw new Failure(`the approval's page does not show it approved; banner: ${await bannerText()}`); });
  check(!(await page.$('[data-testid="approve"]')), 'a decided approval still offers the Approve button');
  await shot('approval-link');

  // An address that is no page.
  await page.goto(`${BASE}/#/nowhere`);
  await page.waitForSelector('#app h2:text-is("Not found")', { timeout: STEP_TIMEOUT });

  // (6) Incident text is text, never markup.
  const xssId = await createIncident({
    title: XSS_TITLE,
    description: '<b>bold?</b> <a href="javascript:window.__xss=3">click</a>',
    severity: 'low',
    services: [service],
  });
  log(`created incident ${xssId} with markup in its title`);
  check((await page.textContent('[data-testid="incident-title"]')) === XSS_TITLE, 'the title was not rendered as literal text on the incident page');
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector(`[data-testid="incident-table"] tr[data-id="${xssId}"]`, { timeout: STEP_TIMEOUT });
  const listed = await page.textContent(`[data-testid="incident-table"] tr[data-id="${xssId}"] .incident-link`);
  check(listed === XSS_TITLE, `the list shows the title as '${listed}'`);
  // The list's filters: severity low shows the second incident only.
  check(await page.$(`[data-testid="incident-table"] tr[data-id="${id}"]`), 'the list does not show the first incident');
  await page.selectOption('[data-testid="filter-severity"]', 'low');
  await page.waitForSelector(`[data-testid="incident-table"] tr[data-id="${id}"]`, { state: 'detached', timeout: STEP_TIMEOUT })
    .catch(() => { throw new Failure('the severity filter still lists a high incident'); });
  check(await page.$(`[data-testid="incident-table"] tr[data-id="${xssId}"]`), 'the severity filter hides the low incident');
  await page.selectOption('[data-testid="filter-severity"]', '');
  await page.waitForSelector(`[data-testid="incident-table"] tr[data-id="${id}"]`, { timeout: STEP_TIMEOUT });
  await page.waitForTimeout(300);
  const injected = await page.evaluate(() => ({
    xss: typeof window.__xss === 'undefined' ? 'undefined' : String(window.__xss),
    imgs: document.querySelectorAll('#app img').length,
    scripts: [...document.querySelectorAll('#app script')].length,
    links: [...document.querySelectorAll('#app a[href^="javascript:"]')].length,
  }));
  check(injected.xss === 'undefined', `window.__xss is ${injected.xss}: incident text ran as markup`);
  check(injected.imgs === 0 && injected.scripts === 0 && injected.links === 0,
    `incident text became elements: ${JSON.stringify(injected)}`);
  await shot('xss');

  // (7) The token is this tab's only: another tab starts signed out.
  const other = await context.newPage();
  await other.goto(`${BASE}/`);
  await other.waitForSelector('[data-testid="token-input"]', { timeout: STEP_TIMEOUT })
    .catch(() => { throw new Failure('a new tab was signed in: the token outlives the session'); });
  await other.close();

  // (8) A #token= link opened while signed in asks before replacing the identity.
  const dialogs = [];
  const answer = (accept) => (dialog) => {
    dialogs.push(dialog.message());
    (accept ? dialog.accept() : dialog.dismiss()).catch(() => {});
  };
  const otherToken = 'someone-elses-token-0123456789abcdef';
  page.once('dialog', answer(false));
  await page.goto(`${BASE}/?link=1#token=${encodeURIComponent(otherToken)}`);
  await page.waitForSelector('[data-testid="user"] [data-testid="role"]', { timeout: STEP_TIMEOUT });
  check(dialogs.length === 1 && dialogs[0].includes('replacing'), `no question before replacing the identity: ${JSON.stringify(dialogs)}`);
  check(await page.evaluate(() => sessionStorage.getItem('itops.token')) === TOKEN, 'a declined link replaced the token');
  check(!page.url().includes(otherToken), `the declined token is still in the address bar: ${page.url()}`);
  page.once('dialog', answer(true));
  await page.goto(`${BASE}/?link=2#token=${encodeURIComponent(otherToken)}`);
  await page.waitForSelector('[data-testid="token-input"]', { timeout: STEP_TIMEOUT })
    .catch(() => { throw new Failure('an accepted link did not replace the identity'); });
  check(dialogs.length === 2, `expected a second question: ${JSON.stringify(dialogs)}`);
  // Signed out by the unknown token, the real link signs in again without a question.
  await page.goto(`${BASE}/?link=3#token=${encodeURIComponent(TOKEN)}`);
  await page.waitForSelector('[data-testid="user"] [data-testid="role"]', { timeout: STEP_TIMEOUT });
  check(dialogs.length === 2, `a question with nobody signed in: ${JSON.stringify(dialogs)}`);
  log('token kept for the session; a link replacing it asks first');

  // Sign out: the token is forgotten and the sign-in form shows.
  await page.click('[data-testid="user"] button');
  await page.waitForSelector('[data-testid="token-input"]', { timeout: STEP_TIMEOUT })
    .catch(() => { throw new Failure('signing out did not show the sign-in form'); });
  check(await page.evaluate(() => sessionStorage.getItem('itops.token')) === null, 'signing out kept the token');

  check(pageErrors.length === 0, `uncaught errors in the page:\n  ${pageErrors.join('\n  ')}`);
  check(foreignRequests.length === 0, `the page requested other origins:\n  ${foreignRequests.join('\n  ')}`);
}

let code = 0;
try {
  await run();
  log('PASSED');
} catch (err) {
  code = 1;
  console.error(`ui.test FAILED: ${err instanceof Failure ? err.message : err?.stack || err}`);
  if (page) {
    try {
      console.error(`  url: ${page.url()}`);
      console.error(`  banner: ${await bannerText()}`);
      await shot('failure');
    } catch { /* the page is gone */ }
  }
  if (pageErrors.length) console.error(`  page errors:\n    ${pageErrors.join('\n    ')}`);
  if (consoleErrors.length) console.error(`  console errors:\n    ${consoleErrors.slice(-10).join('\n    ')}`);
} finally {
  clearTimeout(watchdog);
  await context?.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(code);
