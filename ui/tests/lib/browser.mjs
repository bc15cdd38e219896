// Debian's Chromium, headless, through playwright-core (which downloads no browser), and
// the rules every page of a test is held to: no console error and no uncaught exception
// unless the test names it as expected.

import { chromium } from 'playwright-core';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launch() {
  // Playwright gives each launch a fresh, temporary user-data-dir of its own.
  return chromium.launch({
    executablePath: process.env.TASKLANE_CHROMIUM || '/usr/bin/chromium',
    args: ARGS,
    headless: true,
  });
}

/**
 * A page in a context of its own (its own sessionStorage: another person), whose console
 * errors and uncaught exceptions are collected in `problems`, except those matching one
 * of `page.expected` (regular expressions a test sets for the errors it provokes).
 */
export async function openPage(browser, problems, { viewport = { width: 1280, height: 800 }, timezoneId, colorScheme, expected = [] } = {}) {
  const context = await browser.newContext({ viewport, timezoneId, colorScheme });
  const page = await context.newPage();
  page.expected = expected;
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = `${message.text()} (${message.location().url})`;
    if (!page.expected.some((pattern) => pattern.test(text))) problems.push(`console error: ${text}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on('dialog', (dialog) => {
    problems.push(`a JavaScript dialog opened: ${dialog.message()}`);
    dialog.dismiss();
  });
  return page;
}
