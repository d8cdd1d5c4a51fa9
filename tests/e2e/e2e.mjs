// Drives code-server in Debian's headless Chromium: the things a user of the extension sees.
// Run by scripts/e2e.sh (which starts code-server on a copy of examples/ with the .vsix installed).
import { chromium } from 'playwright-core';

const URL = process.env.E2E_URL;
const EXAMPLE = process.env.E2E_EXAMPLE ?? 'triton_add';
const ARTIFACTS = process.env.E2E_ARTIFACTS ?? '.';
const UI_TIMEOUT = 60_000;
const EVAL_TIMEOUT = 240_000; // a cold worker imports torch, then the Triton interpreter runs on 2 CPU cores
const KERNEL_FILE = 'model_new_add.py';
const BROKEN_LINE = '    tl.store(out_ptr + offsets, a + b, mask=mask)';

const t0 = Date.now();
const log = (...args) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...args);
const results = [];

const browser = await chromium
  .launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  .catch((error) => {
    console.log(`e2e: Chromium did not start: ${error.message}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.on('pageerror', (error) => log('  [pageerror]', String(error).slice(0, 200)));

async function check(name, body) {
  const started = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    log(`PASS ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  } catch (error) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: ${String(error.message).split('\n')[0]}`);
    await page.screenshot({ path: `${ARTIFACTS}/fail-${results.length}.png` }).catch(() => {});
  }
}

const quickInput = page.locator('.quick-input-widget input');
const STATUS = '[id="workbench.parts.statusbar"] [aria-label^="Kernel "]';

async function runFromPalette(title) {
  await page.keyboard.press('F1');
  await quickInput.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  await page.keyboard.type(title);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: title.split(': ')[1] })
    .first()
    .waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
}

async function statusLabel() {
  return page.evaluate((STATUS) => document.querySelector(STATUS)?.getAttribute('aria-label') ?? '', STATUS);
}

/** Waits for the status bar item to show a verdict other than `previous`; fails unless it matches `expected`. */
async function waitForVerdict(expected, previous = '') {
  const handle = await page.waitForFunction(
    ({ STATUS, previous }) => {
      const label = document.querySelector(STATUS)?.getAttribute('aria-label') ?? '';
      return label && !label.startsWith('Kernel evaluation') && label !== previous ? label : null;
    },
    { STATUS, previous },
    { timeout: EVAL_TIMEOUT, polling: 250 },
  );
  const label = await handle.jsonValue();
  if (!expected.test(label)) throw new Error(`status bar says "${label}", expected ${expected}`);
  return label;
}

await check('the workbench opens the examples folder', async () => {
  await page.goto(URL, { timeout: UI_TIMEOUT });
  await page.waitForSelector('.monaco-workbench', { timeout: UI_TIMEOUT });
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: EXAMPLE }).waitFor({ timeout: UI_TIMEOUT });
});

async function openKernelFile() {
  await page.locator('.monaco-workbench').click({ position: { x: 750, y: 400 } });
  await page.keyboard.press('Control+P');
  await quickInput.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  await page.keyboard.type(`${EXAMPLE}/${KERNEL_FILE}`);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: KERNEL_FILE })
    .first()
    .waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab', { hasText: KERNEL_FILE }).waitFor({ timeout: UI_TIMEOUT });
  await page.locator('.monaco-editor .view-lines', { hasText: 'class ModelNew' }).waitFor({ timeout: UI_TIMEOUT });
}

await check('an evaluation longer than a second shows a progress notification whose Cancel stops it', async () => {
  await openKernelFile();
  await runFromPalette('Kernel Eval: Evaluate Kernel');
  const toast = page.locator('.notifications-toasts .notification-list-item', {
    hasText: `Kernel Eval: ${KERNEL_FILE}`,
  });
  await toast.waitFor({ timeout: UI_TIMEOUT });
  log('  progress:', (await toast.innerText()).replace(/\s+/g, ' ').slice(0, 120));
  await page.screenshot({ path: `${ARTIFACTS}/progress.png` });
  await toast.hover();
  await toast.getByRole('button', { name: 'Cancel' }).click();
  await toast.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
  await page.waitForFunction(
    (STATUS) => !document.querySelector(STATUS)?.getAttribute('aria-label')?.startsWith('Kernel evaluation'),
    STATUS,
    { timeout: UI_TIMEOUT },
  );
  const errors = page.locator('.notifications-toasts .notification-list-item .codicon-error');
  if ((await errors.count()) > 0) throw new Error('an error notification appeared after Cancel');
  log('  cancelled; status bar:', (await statusLabel()) || '(hidden)');
});

await check(
  `"Kernel Eval: Evaluate Kernel" on ${EXAMPLE}/${KERNEL_FILE} shows the verdict in a code lens and the status bar`,
  async () => {
    await page.locator('.monaco-editor .view-line', { hasText: 'class ModelNew' }).first().click();
    await runFromPalette('Kernel Eval: Evaluate Kernel');
    log('  evaluating…');
    log('  status bar:', await waitForVerdict(/^Kernel (speedup \d+\.\d+×|correct)$/));
    await page.locator('.codelens-decoration', { hasText: 'correct' }).first().waitFor({ timeout: UI_TIMEOUT });
    log('  code lens:', (await page.locator('.codelens-decoration').first().innerText()).trim());
    await page.screenshot({ path: `${ARTIFACTS}/correct.png` });
  },
);

await check('the status bar tooltip has the timing table', async () => {
  await page.locator(STATUS).first().hover();
  const hover = page.locator('.monaco-hover', { hasText: 'median' }).first();
  await hover.waitFor({ timeout: UI_TIMEOUT });
  const text = await hover.innerText();
  for (const expected of ['reference', 'custom', 'IQR', 'trials', 'Device']) {
    if (!text.includes(expected)) throw new Error(`tooltip lacks "${expected}": ${text}`);
  }
  log('  tooltip:', text.replace(/\s+/g, ' ').slice(0, 160));
  await page.screenshot({ path: `${ARTIFACTS}/tooltip.png` });
  await page.mouse.move(750, 300);
});

await check('clicking the status bar item opens the full result', async () => {
  await page.locator(STATUS).first().click();
  const tab = page.locator('.tabs-container .tab', { hasText: 'kernel result' });
  await tab.waitFor({ timeout: UI_TIMEOUT });
  await page.locator('.monaco-editor .view-lines', { hasText: '## Timing' }).first().waitFor({ timeout: UI_TIMEOUT });
  await page.screenshot({ path: `${ARTIFACTS}/result.png` });
  await page.keyboard.press('Control+W'); // close it: the kernel file is the active editor again
  await tab.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
});

await check('breaking the kernel and saving shows "incorrect" and a diagnostic in the Problems panel', async () => {
  const line = page.locator('.monaco-editor .view-line', { hasText: 'tl.store(out_ptr' }).first();
  await line.click();
  await page.keyboard.press('End');
  await page.keyboard.press('Shift+Home');
  await page.keyboard.press('Shift+Home'); // the second press selects the indentation too
  await page.keyboard.insertText(BROKEN_LINE.replace('a + b', 'a - b'));
  await page.locator('.monaco-editor .view-line', { hasText: 'a - b, mask=mask' }).waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Control+S');
  log('  status bar:', await waitForVerdict(/^Kernel incorrect$/, await statusLabel()));
  // VS Code refreshes code lenses only while the editor has focus, so check the lens before the panel opens.
  await page.locator('.codelens-decoration', { hasText: 'incorrect' }).first().waitFor({ timeout: UI_TIMEOUT });
  log('  code lens:', (await page.locator('.codelens-decoration').first().innerText()).trim().slice(0, 120));
  await page.keyboard.press('Control+Shift+M');
  const row = page
    .locator('.markers-panel .monaco-list-row')
    .filter({ has: page.locator('.codicon-error') })
    .filter({ hasText: 'kernel-eval' })
    .first();
  await row.waitFor({ timeout: UI_TIMEOUT });
  log('  problem:', (await row.innerText()).replace(/\s+/g, ' ').slice(0, 200));
  await page.screenshot({ path: `${ARTIFACTS}/diagnostic.png` });
});

await browser.close();
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
