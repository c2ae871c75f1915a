// Shared set-up of the browser tests: one headless Chromium (the Debian package,
// no browser download) driven by playwright-core, and helpers for the page.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));

export const BASE_URL = (process.env.SR_RUNNER_URL || "http://127.0.0.1:3001").replace(/\/+$/, "");
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR
  || path.resolve(here, "../../target/browser-screenshots");
mkdirSync(SCREENSHOT_DIR, { recursive: true });

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

// A fresh context (empty storage) and a page on the playground. Console errors,
// page errors and CSP violations are collected and checked by `assertClean`.
export async function openPage(browser, { viewport = { width: 1366, height: 860 }, initScript } = {}) {
  const context = await browser.newContext({ viewport });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  page.setDefaultTimeout(45_000);
  const problems = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    // Failed API answers (429, 404, refused connections) are expected in some tests.
    if (/Failed to load resource|net::ERR_CONNECTION_REFUSED/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
  await page.goto(`${BASE_URL}/`);
  await waitReady(page);
  return { context, page, problems };
}

export async function waitReady(page) {
  await page.waitForSelector("html.is-ready");
  // Languages come from /api/runtimes: wait until the list is the server's.
  await page.waitForFunction(() => /Connected to|Cannot reach/.test(document.getElementById("server-status").textContent));
}

export function assertClean(problems) {
  assert.deepEqual(problems, [], `the page logged problems:\n${problems.join("\n")}`);
}

export async function screenshot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

export async function setCode(page, code) {
  await page.fill("#code", code);
}

export async function selectLanguage(page, language) {
  await page.selectOption("#language", language);
}

export async function selectMode(page, mode) {
  await page.click(`#tab-${mode}`);
  await page.waitForSelector(`#panel-${mode}:not([hidden])`);
}

export async function statusOf(page, mode) {
  return page.locator(`#status-${mode}`);
}

// Waits until the mode's status shows a badge other than "running".
export async function waitForResult(page, mode, timeout = 60_000) {
  await page.waitForFunction(
    (m) => {
      const badge = document.querySelector(`#status-${m} .badge`);
      return badge && badge.dataset.status !== "running";
    },
    mode,
    { timeout },
  );
  return page.getAttribute(`#status-${mode} .badge`, "data-status");
}

// Direct API calls from the test itself (not through the page).
export async function apiPost(pathname, body) {
  const response = await fetch(BASE_URL + pathname, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}
