// Debian's chromium through playwright-core (no browser download), with
// guards that fail a test on any console error, page error, or request to
// an origin other than the gateway's.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright-core gives every launch a fresh temporary user-data-dir
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // containers often have a small /dev/shm, where chromium's renderers crash
      '--disable-dev-shm-usage']
  });
}

/**
 * A fresh browser context and page on `origin`, watched. `problems()` lists
 * what went wrong so far; `allow(re)` tolerates console errors matching re
 * (e.g. the "Failed to load resource" of an API error the test provokes).
 */
export async function openPage(browser, origin, { viewport = { width: 1100, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport, baseURL: origin });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const issues = [], allowed = [], dialogs = [];
  const own = new URL(origin).origin;
  await context.route('**/*', route => {
    const url = route.request().url();
    if (new URL(url).origin === own) return route.continue();
    issues.push(`request to another origin: ${url}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', msg => {
    if (msg.type() === 'error' && !allowed.some(re => re.test(msg.text())))
      issues.push(`console error: ${msg.text()} (${msg.location()?.url ?? ''})`);
  });
  page.on('pageerror', e => issues.push(`page error: ${e.message}`));
  page.on('dialog', d => {
    dialogs.push(d.message());
    d.accept();
  });
  return {
    context, page, dialogs,
    allow: re => allowed.push(re),
    problems: () => issues,
    async clipboard() {
      return page.evaluate(() => navigator.clipboard.readText());
    },
    async close() {
      await context.close();
      if (issues.length) throw new Error(issues.join('\n'));
    }
  };
}
