// Browser tests of the sr-runner web playground, in real headless Chromium.
// Run by scripts/browser-tests.sh, which starts the server (MAX_SESSIONS=2).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  BASE_URL, apiPost, assertClean, launch, openPage, screenshot, selectLanguage, selectMode,
  setCode, waitForResult, waitReady,
} from "./helpers.mjs";

const WAITING_PYTHON = 'name = input("name? ")\nprint("hi", name)\n';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

describe("sr-runner playground", () => {
  test("the page loads with every language and a starter template", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await assert.doesNotReject(page.waitForSelector("h1:has-text('SR Compiler')"));
      const options = await page.$$eval("#language option", (os) => os.map((o) => o.value));
      assert.deepEqual(options, ["c", "cpp", "python", "javascript", "java", "go", "typescript", "rust"]);
      assert.equal(await page.inputValue("#language"), "cpp");
      const code = await page.inputValue("#code");
      assert.match(code, /#include <bits\/stdc\+\+\.h>/);
      assert.match(code, /using namespace std;/);
      assert.match(code, /ios::sync_with_stdio\(false\)/);
      await selectLanguage(page, "java");
      assert.match(await page.inputValue("#code"), /public class Main/);
      // Every control has an accessible name.
      const unlabeled = await page.$$eval("input, select, textarea, button", (nodes) => nodes
        .filter((n) => !(n.labels && n.labels.length) && !n.getAttribute("aria-label")
          && !n.getAttribute("aria-labelledby") && !(n.tagName === "BUTTON" && n.textContent.trim()))
        .map((n) => n.id || n.outerHTML));
      assert.deepEqual(unlabeled, []);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("terminal mode: the C++ template reads input typed into the terminal", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectMode(page, "terminal");
      assert.equal(await page.isDisabled("#terminal-line"), true, "input is disabled before the run");
      await page.click("#run");
      await page.waitForSelector("#terminal-line:not([disabled])");
      assert.equal(await page.getAttribute("#status-terminal .badge", "data-status"), "waiting_for_input");
      await page.fill("#terminal-line", "20 22");
      await page.press("#terminal-line", "Enter");
      await page.waitForSelector("#terminal .term-system--ok");
      const text = await page.textContent("#terminal");
      assert.match(text, /20 22\n42\n/);
      assert.match(text, /Program exited with code 0/);
      assert.equal(await page.isDisabled("#terminal-line"), true, "input is disabled after the end");
      assert.equal(await page.getAttribute("#status-terminal .badge", "data-status"), "success");
      assert.match(await page.textContent("#status-terminal"), /Compile .*Run .*Memory/);
      await screenshot(page, "terminal");
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("terminal mode: an interactive program with two prompts", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectLanguage(page, "python");
      await setCode(page, 'name = input("What is your name? ")\nage = int(input("How old are you? "))\nprint(f"Hello {name}, next year you will be {age + 1}.")\n');
      await page.keyboard.press("Control+Enter");
      await page.waitForSelector("#terminal-line:not([disabled])");
      assert.match(await page.textContent("#terminal"), /What is your name\? $/);
      await page.fill("#terminal-line", "Ada");
      await page.press("#terminal-line", "Enter");
      await page.waitForFunction(() => document.getElementById("terminal").textContent.includes("How old are you? "));
      await page.waitForSelector("#terminal-line:not([disabled])");
      await page.fill("#terminal-line", "36");
      await page.press("#terminal-line", "Enter");
      await page.waitForSelector("#terminal .term-system--ok");
      const text = await page.textContent("#terminal");
      assert.match(text, /What is your name\? Ada\nHow old are you\? 36\nHello Ada, next year you will be 37\.\n/);
      assert.match(text, /Program exited with code 0/);
      await screenshot(page, "terminal-interactive");
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("terminal mode: Send EOF ends a program that reads to the end of input", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectLanguage(page, "python");
      await setCode(page, "import sys\nlines = sys.stdin.read().split()\nprint('words:', len(lines))\n");
      await page.click("#run");
      await page.waitForSelector("#terminal-line:not([disabled])");
      await page.fill("#terminal-line", "one two");
      await page.press("#terminal-line", "Enter");
      await page.waitForSelector("#terminal-line:not([disabled])");
      await page.click("#terminal-eof");
      await page.waitForSelector("#terminal .term-system--ok");
      assert.match(await page.textContent("#terminal"), /words: 2/);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("terminal mode: Stop kills the session; input to an ended session says so", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectLanguage(page, "python");
      await setCode(page, WAITING_PYTHON);
      await page.click("#run");
      await page.waitForSelector("#terminal-line:not([disabled])");
      await page.click("#stop");
      await page.waitForSelector("#status-terminal .badge[data-status='stopped']");
      assert.match(await page.textContent("#terminal"), /Stopped by you/);
      assert.equal(await page.isDisabled("#terminal-line"), true);

      let active = null;
      for (let i = 0; i < 50 && active !== 0; i++) {
        if (i) await new Promise((resolve) => setTimeout(resolve, 100));
        active = (await fetch(`${BASE_URL}/api/health`).then((r) => r.json())).activeSessions;
      }
      assert.equal(active, 0, "Stop frees the session's slot");

      // A session that ends behind the page's back (killed elsewhere, expired).
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/api/execute/start")),
        page.click("#run"),
      ]);
      const { sessionId } = await response.json();
      await page.waitForSelector("#terminal-line:not([disabled])");
      assert.equal((await apiPost("/api/execute/kill", { sessionId })).status, 200);
      await page.fill("#terminal-line", "Ada");
      await page.press("#terminal-line", "Enter");
      await page.waitForSelector("#status-terminal .badge[data-status='ended']");
      assert.match(await page.textContent("#status-terminal"), /The session ended or expired — run again/);
      assert.equal(await page.isDisabled("#terminal-line"), true);
      await page.click("#run"); // and a new run works
      await page.waitForSelector("#terminal-line:not([disabled])");
      await page.click("#stop");
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("manual input mode: runs once with the given stdin", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectLanguage(page, "python");
      await selectMode(page, "manual");
      await page.fill("#stdin", "40 2\n");
      await page.click("#run");
      assert.equal(await waitForResult(page, "manual"), "success");
      assert.equal((await page.textContent("#manual-output")).trim(), "42");
      assert.match(await page.textContent("#status-manual"), /Success/);
      assert.match(await page.textContent("#status-manual"), /Run \d+ ms/);
      await screenshot(page, "manual");
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("compile errors and every other outcome are shown distinctly", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectMode(page, "manual");
      await setCode(page, "#include <bits/stdc++.h>\nint main() {\n    int x = ;\n}\n");
      await page.click("#run");
      assert.equal(await waitForResult(page, "manual"), "compile_error");
      assert.match(await page.textContent("#status-manual .badge"), /Compile error/);
      assert.equal(await page.getAttribute("#status-manual .badge", "class"), "badge badge--ce");
      assert.match(await page.getAttribute("#manual-output", "class"), /output--compile/);
      assert.match(await page.textContent("#manual-output"), /error: expected primary-expression/);
      await screenshot(page, "manual-compile-error");

      // And a runtime error gets its own badge, with the exit code.
      await selectLanguage(page, "python");
      await setCode(page, "import sys\nprint('before')\nsys.exit(3)\n");
      await page.click("#run");
      assert.equal(await waitForResult(page, "manual"), "runtime_error");
      assert.match(await page.textContent("#status-manual .badge"), /Runtime error \(exit code 3\)/);
      assert.equal(await page.getAttribute("#status-manual .badge", "class"), "badge badge--err");

      // Every other outcome has its own badge and words, not only a color.
      const outcomes = [
        ["while True:\n    pass\n", "time_limit_exceeded", "badge--tle", /Time limit exceeded/],
        ["while True:\n    print('x' * 1000)\n", "output_limit_exceeded", "badge--ole", /Output limit exceeded/],
        ["a = bytearray(2**30)\nprint(len(a))\n", "memory_limit_exceeded", "badge--mle", /Memory limit exceeded/],
        ["import os\nos.kill(os.getpid(), 11)\n", "killed_by_signal", "badge--err", /Killed by SIGSEGV/],
      ];
      for (const [program, status, kind, label] of outcomes) {
        await setCode(page, program);
        await page.click("#run");
        assert.equal(await waitForResult(page, "manual"), status);
        assert.equal(await page.getAttribute("#status-manual .badge", "class"), `badge ${kind}`);
        assert.match(await page.textContent("#status-manual .badge"), label);
        assert.match(await page.textContent("#manual-output .output-note"), /^\[sr-runner\] /);
        if (status === "memory_limit_exceeded") await screenshot(page, "manual-memory-limit");
      }

      // In the terminal, the end-of-program line names the signal.
      await selectMode(page, "terminal");
      await page.click("#run");
      await page.waitForSelector("#terminal .term-system--err");
      assert.match(await page.textContent("#terminal"), /── Program was killed by SIGSEGV ──/);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("competitive mode: verdicts per test, the first differing line and a summary", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectMode(page, "competitive");
      assert.equal(await page.locator("#cases .case").count(), 2);
      await page.click("#add-case");
      await page.fill("#case-2-stdin", "1 1\n");
      await page.fill("#case-2-expected", "3\n");
      await page.click("#add-case");
      await page.fill("#case-3-stdin", "100 23\n");
      await page.fill("#case-3-expected", "123\n");
      await page.click("#run");
      assert.equal(await waitForResult(page, "competitive"), "wrong_answer");
      assert.match(await page.textContent("#status-competitive"), /3\/4 passed/);
      const verdicts = await page.$$eval("#cases .case-result .badge", (bs) => bs.map((b) => b.dataset.status));
      assert.deepEqual(verdicts, ["accepted", "accepted", "wrong_answer", "accepted"]);
      const wrong = page.locator("#case-result-2");
      assert.match(await wrong.textContent(), /First difference on line 1/);
      assert.equal((await wrong.locator(".diff-expected").textContent()).trim(), "3");
      assert.equal((await wrong.locator(".diff-got").textContent()).trim(), "2");
      assert.equal(await wrong.locator(".out-line--diff").count(), 1);
      assert.match(await page.textContent("#case-result-0"), /Time \d+ ms.*Memory/);
      await screenshot(page, "competitive");

      // Removing a test keeps the others.
      await page.click("#cases .case:nth-child(3) button:has-text('Remove')");
      assert.equal(await page.locator("#cases .case").count(), 3);
      await page.click("#run");
      assert.equal(await waitForResult(page, "competitive"), "accepted");
      assert.match(await page.textContent("#status-competitive"), /3\/3 passed/);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("competitive mode: a compile error shows the compiler output and verdicts", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectMode(page, "competitive");
      await selectLanguage(page, "c");
      await setCode(page, "int main(void) { return missing; }\n");
      await page.click("#run");
      assert.equal(await waitForResult(page, "competitive"), "compile_error");
      await page.waitForSelector("#judge-compile:not([hidden])");
      assert.match(await page.textContent("#judge-compile"), /missing/);
      assert.match(await page.textContent("#status-competitive"), /0\/2 passed/);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("429: a full server says it is busy and for how long", async () => {
    const started = [];
    const { context, page, problems } = await openPage(browser);
    try {
      // MAX_SESSIONS=2: fill both slots with programs waiting for input.
      for (let i = 0; i < 2; i++) {
        const { status, body } = await apiPost("/api/execute/start", { language: "python", code: WAITING_PYTHON });
        assert.equal(status, 200, JSON.stringify(body));
        assert.equal(body.waitingForInput, true);
        started.push(body.sessionId);
      }
      await selectMode(page, "terminal");
      await selectLanguage(page, "python");
      await setCode(page, WAITING_PYTHON);
      await page.click("#run");
      assert.equal(await waitForResult(page, "terminal"), "busy");
      const status = await page.textContent("#status-terminal");
      assert.match(status, /The server is busy, try again in \d+ seconds?/);
      assert.match(await page.textContent("#terminal"), /The server is busy, try again in \d+ seconds?/);
      await screenshot(page, "terminal-busy");
      assertClean(problems);
    } finally {
      for (const sessionId of started) await apiPost("/api/execute/kill", { sessionId });
      await context.close();
    }
  });

  test("a server that cannot be reached is named in the error", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await page.click("#settings-toggle");
      await page.fill("#api-base", "http://127.0.0.1:9");
      await page.press("#api-base", "Enter");
      await page.waitForSelector("#notices .notice--error");
      assert.match(await page.textContent("#notices"), /Cannot reach the server at http:\/\/127\.0\.0\.1:9/);
      await selectMode(page, "manual");
      await page.click("#run");
      assert.equal(await waitForResult(page, "manual"), "error");
      assert.match(await page.textContent("#status-manual"), /Cannot reach the server at http:\/\/127\.0\.0\.1:9/);
      // The setting is remembered, then reset to the page's own server.
      await page.reload();
      await waitReady(page);
      assert.match(await page.textContent("#server-status"), /Cannot reach the server at http:\/\/127\.0\.0\.1:9/);
      await page.click("#settings-toggle");
      await page.click("#api-base-reset");
      await page.waitForFunction(() => document.getElementById("server-status").textContent.startsWith("Connected"));
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("code, language and mode are restored after a reload", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectLanguage(page, "go");
      await selectMode(page, "competitive");
      await page.click("#code");
      await page.keyboard.press("Control+End");
      await page.keyboard.type("\n// kept across reloads\n");
      await selectLanguage(page, "python");
      await setCode(page, "print('python draft')\n");
      await selectLanguage(page, "go");
      await page.waitForTimeout(500); // the debounced save
      await page.reload();
      await waitReady(page);
      assert.equal(await page.inputValue("#language"), "go");
      assert.equal(await page.getAttribute("#tab-competitive", "aria-selected"), "true");
      assert.match(await page.inputValue("#code"), /package main[\s\S]*\/\/ kept across reloads/);
      await selectLanguage(page, "python");
      assert.equal(await page.inputValue("#code"), "print('python draft')\n");
      const keys = await page.evaluate(() => Object.keys(localStorage).sort());
      assert.ok(keys.includes("sr-runner:code:go") && keys.includes("sr-runner:code:python"), keys.join());
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("a full localStorage falls back to sessionStorage, tells the user once, and restores", async () => {
    const { context, page, problems } = await openPage(browser, {
      initScript: () => {
        const setItem = Storage.prototype.setItem;
        Storage.prototype.setItem = function (key, value) {
          if (this === window.localStorage) {
            throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
          }
          return setItem.call(this, key, value);
        };
      },
    });
    try {
      await selectLanguage(page, "python");
      await setCode(page, "print('saved in the tab')\n");
      await page.waitForTimeout(500);
      await setCode(page, "print('saved in the tab, again')\n");
      await page.waitForTimeout(500);
      const saved = await page.evaluate(() => sessionStorage.getItem("sr-runner:code:python"));
      assert.ok(saved && JSON.parse(saved).v === "print('saved in the tab, again')\n", saved);
      assert.equal(await page.evaluate(() => localStorage.getItem("sr-runner:code:python")), null);
      assert.equal(await page.locator("#notices .notice--warn").count(), 1, "told once");
      assert.match(await page.textContent("#notices"), /this tab only/);
      await page.reload();
      await waitReady(page);
      assert.equal(await page.inputValue("#language"), "python");
      assert.equal(await page.inputValue("#code"), "print('saved in the tab, again')\n");
      // The page still works.
      await selectMode(page, "manual");
      await page.click("#run");
      assert.equal(await waitForResult(page, "manual"), "success");
      assert.match(await page.textContent("#manual-output"), /saved in the tab, again/);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("a full localStorage makes room by moving the oldest entries out, then saves", async () => {
    const { context, page, problems } = await openPage(browser, {
      initScript: () => {
        // A 700-byte quota, already holding two old drafts.
        const LIMIT = 700;
        const setItem = Storage.prototype.setItem;
        Storage.prototype.setItem = function (key, value) {
          if (this === window.localStorage) {
            let used = 0;
            for (let i = 0; i < this.length; i++) {
              const k = this.key(i);
              if (k !== key) used += k.length + this.getItem(k).length;
            }
            if (used + key.length + String(value).length > LIMIT) {
              throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
            }
          }
          return setItem.call(this, key, value);
        };
        if (localStorage.getItem("sr-runner:code:rust") === null) {
          setItem.call(localStorage, "sr-runner:code:rust", JSON.stringify({ v: `fn main() { /* oldest ${"r".repeat(180)} */ }\n`, t: 1000 }));
          setItem.call(localStorage, "sr-runner:code:go", JSON.stringify({ v: `package main // older ${"g".repeat(180)}\n`, t: 2000 }));
        }
      },
    });
    try {
      await selectLanguage(page, "python");
      const draft = `print("${"p".repeat(200)}")\n`;
      await setCode(page, draft);
      await page.waitForTimeout(500);
      const local = await page.evaluate(() => Object.keys(localStorage).sort());
      assert.ok(local.includes("sr-runner:code:python"), `python saved to localStorage: ${local}`);
      assert.ok(!local.includes("sr-runner:code:rust"), "the oldest entry made room");
      assert.ok(local.includes("sr-runner:code:go"), "only as much as needed was moved");
      // The moved entry is still there for this tab, and nothing needed telling.
      assert.match(await page.evaluate(() => sessionStorage.getItem("sr-runner:code:rust")), /oldest/);
      assert.equal(await page.locator("#notices .notice").count(), 0);
      await selectLanguage(page, "rust");
      assert.match(await page.inputValue("#code"), /fn main\(\) \{ \/\* oldest/);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("storage refused everywhere: kept in memory, the page keeps working", async () => {
    const { context, page, problems } = await openPage(browser, {
      initScript: () => {
        Storage.prototype.setItem = function () {
          throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
        };
      },
    });
    try {
      await selectLanguage(page, "python");
      await setCode(page, "print('memory')\n");
      await selectLanguage(page, "c");
      await selectLanguage(page, "python");
      assert.equal(await page.inputValue("#code"), "print('memory')\n");
      assert.equal(await page.locator("#notices .notice--warn").count(), 1);
      assert.match(await page.textContent("#notices"), /memory only/);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("the editor: Tab indents, Shift+Tab outdents, Enter keeps the indentation, gutter follows", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectLanguage(page, "python");
      await setCode(page, "");
      await page.click("#code");
      await page.keyboard.type("def f():");
      await page.keyboard.press("Enter");
      await page.keyboard.type("return 1");
      await page.keyboard.press("Enter");
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.type("x = 1");
      await page.keyboard.press("Home");
      await page.keyboard.press("Tab");
      assert.equal(await page.inputValue("#code"), "def f():\n    return 1\n    x = 1");
      assert.equal(await page.textContent("#gutter"), "1\n2\n3\n");
      // Esc then Tab leaves the editor (no keyboard trap).
      await page.keyboard.press("Escape");
      await page.keyboard.press("Tab");
      assert.notEqual(await page.evaluate(() => document.activeElement.id), "code");
      // The gutter scrolls with the code.
      await setCode(page, Array.from({ length: 200 }, (_, i) => `print(${i})`).join("\n"));
      await page.$eval("#code", (c) => { c.scrollTop = 1000; c.dispatchEvent(new Event("scroll")); });
      await page.waitForFunction(() => Math.abs(document.getElementById("gutter").scrollTop - document.getElementById("code").scrollTop) <= 1);
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("every language's template runs with the default input", async () => {
    const { context, page, problems } = await openPage(browser);
    try {
      await selectMode(page, "manual");
      await page.fill("#stdin", "20 22\n");
      for (const language of ["c", "cpp", "python", "javascript", "java", "go", "typescript", "rust"]) {
        await selectLanguage(page, language);
        await page.click("#run");
        const status = await waitForResult(page, "manual", 120_000);
        const output = await page.textContent("#manual-output");
        assert.equal(status, "success", `${language}: ${output}`);
        assert.equal(output.trim(), "42", language);
      }
      assertClean(problems);
    } finally {
      await context.close();
    }
  });

  test("phone width: panels stack and nothing overflows", async () => {
    const { context, page, problems } = await openPage(browser, { viewport: { width: 375, height: 812 } });
    try {
      await selectLanguage(page, "python");
      await page.click("#run");
      await page.waitForSelector("#terminal-line:not([disabled])");
      await page.fill("#terminal-line", "1 2");
      await page.press("#terminal-line", "Enter");
      await page.waitForSelector("#terminal .term-system--ok");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
      const editor = await page.locator(".pane-editor").boundingBox();
      const run = await page.locator(".pane-run").boundingBox();
      assert.ok(run.y >= editor.y + editor.height, "the run panel is below the editor");
      await screenshot(page, "phone-terminal");
      await selectMode(page, "competitive");
      await page.click("#run");
      await waitForResult(page, "competitive");
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
      await screenshot(page, "phone-competitive");
      await selectMode(page, "manual");
      await page.click("#run");
      await waitForResult(page, "manual");
      await screenshot(page, "phone-manual");
      assertClean(problems);
    } finally {
      await context.close();
    }
  });
});
