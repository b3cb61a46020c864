import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Debian's Chromium (tools/setup.js --browser installs it when missing): playwright's own browser
 * downloads cannot work here. Undefined when there is none: the browser tests then skip, saying why.
 */
export function chromiumPath(): string | undefined {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => Boolean(p) && fs.existsSync(p!));
}

export async function launchBrowser(executablePath: string): Promise<Browser> {
  // --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export const SCREENSHOTS_DIR = path.resolve(__dirname, '../../.data/ci');

/** A full-page screenshot under .data/ci/dashboard-<name>.png (every run; CI keeps them). */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS_DIR, `dashboard-${name}.png`), fullPage: true });
}
