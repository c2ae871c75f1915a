// SR Compiler playground: the web page of sr-runner. Plain JavaScript, no build
// step, no network access other than the sr-runner API (whose base URL is a
// setting). Everything the user types is kept in storage so nothing is lost.
(() => {
  "use strict";

  const PREFIX = "sr-runner:";
  const SAVE_DELAY_MS = 300;
  const MODES = ["terminal", "manual", "competitive"];

  // Used until /api/runtimes answers (or when it cannot be reached).
  const FALLBACK_RUNTIMES = [
    ["c", "C"], ["cpp", "C++"], ["python", "Python"], ["javascript", "JavaScript"],
    ["java", "Java"], ["go", "Go"], ["typescript", "TypeScript"], ["rust", "Rust"],
  ].map(([language, name]) => ({ language, name, available: true, version: null }));

  // Starter programs: each reads two integers and prints their sum, so the same
  // program works typed into the terminal, with manual input and against tests.
  const TEMPLATES = {
    c: `#include <stdio.h>

int main(void) {
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) {
        fprintf(stderr, "expected two integers\\n");
        return 1;
    }
    printf("%lld\\n", a + b);
    return 0;
}
`,
    cpp: `#include <bits/stdc++.h>
using namespace std;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);

    long long a, b;
    cin >> a >> b;
    cout << a + b << "\\n";
    return 0;
}
`,
    python: `a, b = map(int, input().split())
print(a + b)
`,
    javascript: `const readline = require("readline");

const rl = readline.createInterface({ input: process.stdin });
rl.once("line", (line) => {
    const [a, b] = line.trim().split(/\\s+/).map(Number);
    console.log(a + b);
    rl.close();
});
`,
    java: `import java.io.*;
import java.util.*;

public class Main {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        StringTokenizer st = new StringTokenizer(in.readLine());
        long a = Long.parseLong(st.nextToken());
        long b = Long.parseLong(st.nextToken());
        System.out.println(a + b);
    }
}
`,
    go: `package main

import (
    "bufio"
    "fmt"
    "os"
)

func main() {
    in := bufio.NewReader(os.Stdin)
    out := bufio.NewWriter(os.Stdout)
    defer out.Flush()

    var a, b int64
    fmt.Fscan(in, &a, &b)
    fmt.Fprintln(out, a+b)
}
`,
    typescript: `import * as readline from "readline";

const rl = readline.createInterface({ input: process.stdin });
rl.once("line", (line: string) => {
    const [a, b] = line.trim().split(/\\s+/).map(Number);
    console.log(a + b);
    rl.close();
});
`,
    rust: `use std::io::{self, BufRead};

fn main() {
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).unwrap();
    let nums: Vec<i64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    println!("{}", nums[0] + nums[1]);
}
`,
  };
  const GENERIC_TEMPLATE = "// Write your program here.\n";
  const DEFAULT_CASES = [
    { stdin: "2 3\n", expected: "5\n" },
    { stdin: "10 -4\n", expected: "6\n" },
  ];

  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  // ------------------------------------------------------------------ notices

  const notices = $("notices");
  function notify(text, kind = "info", { sticky = false } = {}) {
    const box = el("div", `notice notice--${kind}`);
    const message = el("p", "notice-text", text);
    const close = el("button", "btn btn-ghost btn-small", "Dismiss");
    close.type = "button";
    close.addEventListener("click", () => box.remove());
    box.append(message, close);
    notices.append(box);
    if (!sticky) setTimeout(() => box.remove(), 12000);
    return { box, message };
  }

  // ------------------------------------------------------------------ storage
  // Every entry is {"v": value, "t": savedAt}. Writes go to localStorage; when it
  // refuses (quota, disabled, private mode), the page's oldest entries are moved
  // out of the way and the write is retried; then sessionStorage, then memory.

  const store = (() => {
    const TIERS = ["localStorage", "sessionStorage", "memory"];
    const memory = new Map();
    let tier = 0;
    let notice = null;

    function backend(name) {
      if (name === "memory") return null;
      try {
        return window[name] || null;
      } catch {
        return null; // reading window.localStorage itself throws when disabled
      }
    }
    function parse(text) {
      if (typeof text !== "string") return null;
      try {
        const entry = JSON.parse(text);
        return entry && typeof entry === "object" && "v" in entry ? entry : null;
      } catch {
        return null;
      }
    }
    function read(name, key) {
      if (name === "memory") return parse(memory.get(key));
      const storage = backend(name);
      try {
        return storage ? parse(storage.getItem(key)) : null;
      } catch {
        return null;
      }
    }
    function pageEntries(storage) {
      const entries = [];
      try {
        for (let i = 0; i < storage.length; i++) {
          const key = storage.key(i);
          if (key && key.startsWith(PREFIX)) {
            const entry = parse(storage.getItem(key));
            entries.push({ key, t: entry ? Number(entry.t) || 0 : 0 });
          }
        }
      } catch {
        /* an unreadable storage has nothing to evict */
      }
      return entries.sort((a, b) => a.t - b.t);
    }
    function trySet(name, key, text) {
      const storage = backend(name);
      if (!storage) return false;
      try {
        storage.setItem(key, text);
        return true;
      } catch {
        /* full or refused: make room below */
      }
      for (const old of pageEntries(storage)) {
        if (old.key === key) continue;
        try {
          // Keep the evicted entry for this visit in the next tier down.
          const value = storage.getItem(old.key);
          storage.removeItem(old.key);
          if (value !== null) keepBelow(name, old.key, value);
          storage.setItem(key, text);
          return true;
        } catch {
          /* still full: evict the next oldest */
        }
      }
      return false;
    }
    function keepBelow(name, key, text) {
      const below = TIERS.indexOf(name) + 1;
      if (TIERS[below] === "sessionStorage") {
        try {
          window.sessionStorage.setItem(key, text);
          return;
        } catch {
          /* fall through to memory */
        }
      }
      memory.set(key, text);
    }
    function degraded() {
      const where = TIERS[tier] === "sessionStorage"
        ? "Your browser refused to save to its local storage (full, disabled or private mode). Your code is kept for this tab only: it survives a reload but not closing the tab."
        : "Your browser refuses to save anything (storage full or disabled). Your code is kept in memory only: copy it somewhere before closing or reloading the page.";
      if (!notice) {
        notice = notify(where, "warn", { sticky: true });
      } else {
        notice.message.textContent = where; // tell once: update, do not repeat
      }
    }

    return {
      get(key) {
        // The newest copy wins: a fallback tier may hold newer data than localStorage.
        let best = null;
        for (const name of TIERS) {
          const entry = read(name, PREFIX + key);
          if (entry && (!best || (Number(entry.t) || 0) > (Number(best.t) || 0))) best = entry;
        }
        return best ? best.v : null;
      },
      set(key, value) {
        const text = JSON.stringify({ v: value, t: Date.now() });
        while (TIERS[tier] !== "memory") {
          if (trySet(TIERS[tier], PREFIX + key, text)) return;
          tier += 1;
          degraded();
        }
        memory.set(PREFIX + key, text);
      },
      remove(key) {
        memory.delete(PREFIX + key);
        for (const name of ["localStorage", "sessionStorage"]) {
          try {
            const storage = backend(name);
            if (storage) storage.removeItem(PREFIX + key);
          } catch {
            /* nothing to remove */
          }
        }
      },
      get tier() {
        return TIERS[tier];
      },
    };
  })();

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(message, status, kind) {
      super(message);
      this.status = status;
      this.kind = kind;
    }
  }

  function defaultBase() {
    return /^https?:$/.test(location.protocol) ? location.origin : "http://127.0.0.1:3001";
  }
  function apiBase() {
    const saved = store.get("apiBase");
    return typeof saved === "string" && saved ? saved : defaultBase();
  }

  function retryAfterSeconds(header) {
    if (!header) return null;
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
    const date = Date.parse(header);
    return Number.isNaN(date) ? null : Math.max(1, Math.ceil((date - Date.now()) / 1000));
  }

  async function api(path, body, { signal, keepalive } = {}) {
    const base = apiBase();
    const init = { method: body === undefined ? "GET" : "POST", signal, keepalive };
    if (body !== undefined) {
      init.headers = { "content-type": "application/json" };
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(base + path, init);
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(`Cannot reach the server at ${base}`, 0, "network");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (response.ok) {
      if (data && typeof data === "object") return data;
      throw new ApiError(`The server at ${base} sent an answer this page does not understand`, response.status, "http");
    }
    if (response.status === 429) {
      const seconds = retryAfterSeconds(response.headers.get("retry-after"));
      const when = seconds === null ? "in a few seconds" : `in ${seconds} second${seconds === 1 ? "" : "s"}`;
      throw new ApiError(`The server is busy, try again ${when}`, 429, "busy");
    }
    const message = data && typeof data.error === "string" && data.error
      ? data.error
      : `The server answered ${response.status} ${response.statusText}`.trim();
    throw new ApiError(message, response.status, "http");
  }

  function errorText(err) {
    if (err instanceof ApiError) return err.message;
    return `Something went wrong in the page: ${err && err.message ? err.message : String(err)}`;
  }

  // ------------------------------------------------------------------ formatting

  const STATUS = {
    success: ["ok", "✓", "Success"],
    accepted: ["ok", "✓", "Accepted"],
    compile_error: ["ce", "⚠", "Compile error"],
    runtime_error: ["err", "✗", "Runtime error"],
    killed_by_signal: ["err", "✗", "Killed by signal"],
    wrong_answer: ["err", "✗", "Wrong answer"],
    time_limit_exceeded: ["tle", "⏱", "Time limit exceeded"],
    memory_limit_exceeded: ["mle", "▲", "Memory limit exceeded"],
    output_limit_exceeded: ["ole", "✂", "Output limit exceeded"],
    cancelled: ["muted", "■", "Cancelled"],
    skipped: ["muted", "–", "Skipped"],
    waiting_for_input: ["info", "⌨", "Waiting for input"],
    running: ["info", "…", "Running"],
    stopped: ["muted", "■", "Stopped"],
    busy: ["warn", "!", "Server busy"],
    error: ["err", "!", "Error"],
    ended: ["muted", "■", "Session ended"],
  };

  function badge(status, label) {
    const [kind, icon, text] = STATUS[status] || ["muted", "•", status];
    const node = el("span", `badge badge--${kind}`);
    if (status === "running") node.classList.add("badge--running");
    node.append(el("span", "badge-icon", icon), el("span", "badge-text", label || text));
    node.dataset.status = status;
    return node;
  }

  // Splits output into the program's text and sr-runner's own notes (a line
  // "[sr-runner] ..." appended when a limit or a signal stopped the program).
  function splitNotes(text) {
    return text.split(/^(\[sr-runner\] .*(?:\n|$))/m).filter(Boolean)
      .map((part) => [part, part.startsWith("[sr-runner] ")]);
  }

  function formatMs(ms) {
    return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
  }
  function formatKb(kb) {
    if (!kb) return "0 KiB";
    return kb >= 1024 ? `${(kb / 1024).toFixed(1)} MiB` : `${kb} KiB`;
  }

  function timingChips(result) {
    const chips = [];
    const t = result.timings || {};
    if (result.compile) {
      let text = `Compile ${formatMs(result.compile.durationMs ?? t.compileMs ?? 0)}`;
      if (result.compile.cached) text += " (cached)";
      chips.push(text);
    }
    if (result.status !== "compile_error") {
      chips.push(`Run ${formatMs(t.runWallMs ?? 0)}`);
      chips.push(`CPU ${formatMs(t.cpuMs ?? 0)}`);
      chips.push(`Memory ${formatKb(t.peakMemoryKb ?? 0)}`);
    }
    return chips;
  }

  function statusLabel(result) {
    switch (result.status) {
      case "runtime_error":
        return result.exitCode !== null && result.exitCode !== undefined
          ? `Runtime error (exit code ${result.exitCode})`
          : "Runtime error";
      case "killed_by_signal":
        return `Killed by ${result.signal || "a signal"}`;
      default:
        return null;
    }
  }

  // Renders a status line: badge, extra badges, message, timing chips.
  function setStatus(target, status, { label, message, result } = {}) {
    target.replaceChildren();
    target.append(badge(status, label));
    if (result && result.outputTruncated && status !== "output_limit_exceeded") {
      target.append(badge("output_limit_exceeded", "Output truncated"));
    }
    if (message) target.append(el("span", "status-message", message));
    if (result) {
      const list = el("span", "chips");
      for (const chip of timingChips(result)) list.append(el("span", "chip", chip));
      if (list.childElementCount) target.append(list);
    }
  }

  // ------------------------------------------------------------------ elements

  const languageSelect = $("language");
  const runButton = $("run");
  const stopButton = $("stop");
  const code = $("code");
  const gutter = $("gutter");
  const tabs = MODES.map((mode) => $(`tab-${mode}`));
  const panels = MODES.map((mode) => $(`panel-${mode}`));

  // ------------------------------------------------------------------ state

  let runtimes = FALLBACK_RUNTIMES;
  let language = typeof store.get("language") === "string" ? store.get("language") : "cpp";
  let mode = MODES.includes(store.get("mode")) ? store.get("mode") : "terminal";
  const busy = { terminal: false, terminalRequest: false, manual: false, competitive: false };

  // ------------------------------------------------------------------ saving

  const pending = new Map(); // key -> [timer, thunk]
  function saveSoon(key, thunk) {
    const old = pending.get(key);
    if (old) clearTimeout(old[0]);
    const timer = setTimeout(() => flush(key), SAVE_DELAY_MS);
    pending.set(key, [timer, thunk]);
  }
  function flush(key) {
    const job = pending.get(key);
    if (!job) return;
    clearTimeout(job[0]);
    pending.delete(key);
    try {
      store.set(key, job[1]());
    } catch (err) {
      notify(errorText(err), "error");
    }
  }
  function flushAll() {
    for (const key of [...pending.keys()]) flush(key);
  }

  function codeKey(lang) {
    return `code:${lang}`;
  }
  function savedCode(lang) {
    const saved = store.get(codeKey(lang));
    if (typeof saved === "string") return saved;
    return TEMPLATES[lang] || GENERIC_TEMPLATE;
  }

  // ------------------------------------------------------------------ editor

  const INDENT = "    ";
  let escapeTab = false;
  let shownLines = 0;

  function updateGutter() {
    let lines = 1;
    const value = code.value;
    for (let i = value.indexOf("\n"); i !== -1; i = value.indexOf("\n", i + 1)) lines++;
    if (lines !== shownLines) {
      shownLines = lines;
      let text = "";
      for (let n = 1; n <= lines; n++) text += n + "\n";
      gutter.textContent = text;
    }
    gutter.scrollTop = code.scrollTop;
  }

  function setCode(text) {
    code.value = text;
    code.setSelectionRange(0, 0);
    code.scrollTop = 0;
    code.scrollLeft = 0;
    updateGutter();
  }

  // Replaces the selection, keeping the browser's undo history when it can.
  function insertText(text) {
    const ok = document.queryCommandSupported && document.queryCommandSupported("insertText")
      && document.execCommand("insertText", false, text);
    if (!ok) {
      code.setRangeText(text, code.selectionStart, code.selectionEnd, "end");
      code.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  function lineStartOf(pos) {
    return code.value.lastIndexOf("\n", pos - 1) + 1;
  }

  function selectedBlock() {
    const { selectionStart: start, selectionEnd: end, value } = code;
    const first = lineStartOf(start);
    let last = end;
    if (end > start && value[end - 1] === "\n") last = end - 1;
    const lineEnd = value.indexOf("\n", last);
    return { first, stop: lineEnd === -1 ? value.length : lineEnd };
  }

  function indent() {
    const { selectionStart: start, selectionEnd: end, value } = code;
    if (!value.slice(start, end).includes("\n")) {
      const column = start - lineStartOf(start);
      insertText(" ".repeat(INDENT.length - (column % INDENT.length)));
      return;
    }
    const { first, stop } = selectedBlock();
    const block = value.slice(first, stop).split("\n").map((l) => (l ? INDENT + l : l)).join("\n");
    code.setSelectionRange(first, stop);
    insertText(block);
    code.setSelectionRange(first, first + block.length);
  }

  function outdent() {
    const { selectionStart: start, selectionEnd: end, value } = code;
    const { first, stop } = selectedBlock();
    const lines = value.slice(first, stop).split("\n");
    let removedFirst = 0;
    const block = lines.map((line, i) => {
      const cut = line.startsWith("\t") ? 1 : line.match(/^ {0,4}/)[0].length;
      if (i === 0) removedFirst = cut;
      return line.slice(cut);
    }).join("\n");
    if (block.length === stop - first) return;
    code.setSelectionRange(first, stop);
    insertText(block);
    if (start === end) {
      const pos = Math.max(first, start - removedFirst);
      code.setSelectionRange(pos, pos);
    } else {
      code.setSelectionRange(first, first + block.length);
    }
  }

  function newline() {
    const { selectionStart: start, value } = code;
    const line = value.slice(lineStartOf(start), start);
    const base = line.match(/^[ \t]*/)[0];
    const before = line.trimEnd();
    const opener = before.slice(-1);
    const extra = "{[(:".includes(opener) && before ? INDENT : "";
    const next = value[code.selectionEnd];
    const pairs = { "{": "}", "[": "]", "(": ")" };
    if (extra && pairs[opener] && next === pairs[opener]) {
      insertText(`\n${base}${extra}\n${base}`);
      const pos = start + 1 + base.length + extra.length;
      code.setSelectionRange(pos, pos);
    } else {
      insertText(`\n${base}${extra}`);
    }
  }

  code.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      escapeTab = true; // the next Tab leaves the editor
      return;
    }
    if (event.key === "Tab" && !event.ctrlKey && !event.altKey && !event.metaKey) {
      if (escapeTab) {
        escapeTab = false;
        return;
      }
      event.preventDefault();
      if (event.shiftKey) outdent();
      else indent();
      return;
    }
    escapeTab = false;
    if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && !event.altKey
      && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      newline();
    }
  });
  code.addEventListener("input", () => {
    updateGutter();
    const lang = language;
    const text = code.value;
    saveSoon(codeKey(lang), () => text);
  });
  code.addEventListener("scroll", () => {
    gutter.scrollTop = code.scrollTop;
  });
  code.addEventListener("blur", () => {
    escapeTab = false;
  });

  $("reset-code").addEventListener("click", () => {
    code.focus();
    code.setSelectionRange(0, code.value.length);
    insertText(TEMPLATES[language] || GENERIC_TEMPLATE); // Ctrl+Z brings the old code back
    code.setSelectionRange(0, 0);
    code.scrollTop = 0;
    updateGutter();
    announce("Code reset to the template. Press Ctrl+Z in the editor to undo.");
  });

  const announcer = $("announcer");
  function announce(text) {
    announcer.textContent = "";
    setTimeout(() => {
      announcer.textContent = text;
    }, 30);
  }

  // ------------------------------------------------------------------ languages

  function runtimeLabel(runtime) {
    const version = runtime.version ? ` (${runtime.version})` : "";
    if (runtime.available) return runtime.name + version;
    return `${runtime.name}: unavailable${runtime.missing ? `, ${runtime.missing}` : ""}`;
  }

  function fillLanguages() {
    languageSelect.replaceChildren();
    for (const runtime of runtimes) {
      const option = el("option", null, runtimeLabel(runtime));
      option.value = runtime.language;
      option.disabled = !runtime.available;
      if (!runtime.available && runtime.missing) option.title = runtime.missing;
      languageSelect.append(option);
    }
    const usable = runtimes.filter((r) => r.available);
    if (!usable.some((r) => r.language === language) && usable.length) {
      switchLanguage(usable[0].language);
    }
    languageSelect.value = language;
  }

  function switchLanguage(next) {
    flushAll();
    language = next;
    languageSelect.value = next;
    setCode(savedCode(next));
    store.set("language", next);
  }

  languageSelect.addEventListener("change", () => switchLanguage(languageSelect.value));

  let runtimesNotice = null;
  async function loadRuntimes() {
    const status = $("server-status");
    status.textContent = `Connecting to ${apiBase()}…`;
    try {
      const data = await api("/api/runtimes");
      if (!Array.isArray(data.runtimes)) throw new ApiError("The server sent no list of languages", 200, "http");
      runtimes = data.runtimes;
      if (runtimesNotice) runtimesNotice.box.remove();
      runtimesNotice = null;
      const count = runtimes.filter((r) => r.available).length;
      status.textContent = `Connected to ${apiBase()}: ${count} of ${runtimes.length} languages available.`;
    } catch (err) {
      runtimes = FALLBACK_RUNTIMES;
      status.textContent = errorText(err);
      if (runtimesNotice) runtimesNotice.box.remove();
      runtimesNotice = notify(`${errorText(err)}. Check the API base URL in Settings.`, "error", { sticky: true });
    }
    fillLanguages();
  }

  // ------------------------------------------------------------------ modes

  function selectMode(next, { focus = false } = {}) {
    mode = next;
    MODES.forEach((m, i) => {
      const selected = m === next;
      tabs[i].setAttribute("aria-selected", String(selected));
      tabs[i].tabIndex = selected ? 0 : -1;
      panels[i].hidden = !selected;
    });
    if (focus) tabs[MODES.indexOf(next)].focus();
    store.set("mode", next);
    updateButtons();
  }

  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => selectMode(MODES[i]));
    tab.addEventListener("keydown", (event) => {
      let j = null;
      if (event.key === "ArrowRight") j = (i + 1) % MODES.length;
      else if (event.key === "ArrowLeft") j = (i + MODES.length - 1) % MODES.length;
      else if (event.key === "Home") j = 0;
      else if (event.key === "End") j = MODES.length - 1;
      if (j !== null) {
        event.preventDefault();
        selectMode(MODES[j], { focus: true });
      }
    });
  });

  function updateButtons() {
    const requesting = mode === "terminal" ? busy.terminalRequest : busy[mode];
    runButton.disabled = requesting;
    stopButton.disabled = mode === "terminal" ? !terminal.active() : !busy[mode];
  }

  function run() {
    if (runButton.disabled) return;
    flushAll();
    if (mode === "terminal") terminal.start();
    else if (mode === "manual") manual.run();
    else competitive.run();
  }
  function stop() {
    if (mode === "terminal") terminal.stop();
    else if (mode === "manual") manual.stop();
    else competitive.stop();
  }
  runButton.addEventListener("click", run);
  stopButton.addEventListener("click", stop);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  });

  // ------------------------------------------------------------------ terminal

  const terminal = (() => {
    const screen = $("terminal");
    const status = $("status-terminal");
    const form = $("terminal-form");
    const line = $("terminal-line");
    const send = $("terminal-send");
    const eof = $("terminal-eof");
    let session = null; // id of the session waiting for input
    let generation = 0; // bumps on every start/stop: stale answers are ignored
    let requesting = false;

    function print(text, className) {
      if (!text) return;
      const last = screen.lastChild;
      if (!className && last && last.nodeType === Node.TEXT_NODE) last.appendData(text);
      else if (className) screen.append(el("span", className, text));
      else screen.append(document.createTextNode(text));
      screen.scrollTop = screen.scrollHeight;
    }
    function system(text, kind = "info") {
      const needsBreak = screen.textContent && !screen.textContent.endsWith("\n");
      print(`${needsBreak ? "\n" : ""}${text}\n`, `term-system term-system--${kind}`);
    }

    function setWaiting(waiting) {
      line.disabled = !waiting;
      send.disabled = !waiting;
      eof.disabled = !waiting;
      form.classList.toggle("is-waiting", waiting);
      $("terminal-hint").textContent = waiting
        ? "The program is waiting for input: type a line and press Enter."
        : "Input is enabled while the program waits for it.";
    }

    function setRequesting(value) {
      requesting = value;
      busy.terminal = value || session !== null;
      busy.terminalRequest = value;
      updateButtons();
    }

    function endLine(turn) {
      switch (turn.status) {
        case "success":
        case "runtime_error":
          if (turn.signal) return [`Program was killed by ${turn.signal}`, "err"];
          return [`Program exited with code ${turn.exitCode ?? "?"}`, turn.exitCode === 0 ? "ok" : "err"];
        case "killed_by_signal":
          return [`Program was killed by ${turn.signal || "a signal"}`, "err"];
        case "time_limit_exceeded":
          return ["Program stopped: time limit exceeded", "tle"];
        case "memory_limit_exceeded":
          return ["Program stopped: memory limit exceeded", "mle"];
        case "output_limit_exceeded":
          return ["Program stopped: output limit exceeded (output truncated)", "ole"];
        case "compile_error":
          return ["Compilation failed: fix the errors above and run again", "ce"];
        case "cancelled":
          return ["Program stopped: the server is shutting down", "muted"];
        default:
          return [`Program ended (${turn.state || turn.status})`, "muted"];
      }
    }

    function handleTurn(turn) {
      const compileFailed = turn.status === "compile_error";
      for (const [part, note] of splitNotes(turn.output || "")) {
        print(part, note ? "term-note" : compileFailed ? "term-compile" : null);
      }
      if (turn.replayDiverged) system(turn.message || "The replay printed something different from before.", "warn");
      if (turn.waitingForInput) {
        session = turn.sessionId;
        setWaiting(true);
        setStatus(status, "waiting_for_input", { result: turn });
        line.focus();
      } else {
        session = null;
        setWaiting(false);
        const [text, kind] = endLine(turn);
        system(`── ${text} ──`, kind);
        setStatus(status, turn.status, { label: statusLabel(turn), result: turn });
      }
    }

    function handleError(err, inSession) {
      if (err && err.name === "AbortError") return;
      let text = errorText(err);
      let kind = err instanceof ApiError && err.kind === "busy" ? "busy" : "error";
      if (inSession && err instanceof ApiError && (err.status === 404 || err.status === 410)) {
        text = "The session ended or expired — run again";
        kind = "ended";
        session = null;
        setWaiting(false);
      }
      system(text, "err");
      setStatus(status, kind, { message: text });
    }

    async function start() {
      const old = session;
      generation += 1;
      const mine = generation;
      session = null;
      setWaiting(false);
      if (old) kill(old);
      screen.replaceChildren();
      const name = runtimes.find((r) => r.language === language)?.name || language;
      system(`$ run ${name}`, "muted");
      setStatus(status, "running", { label: "Compiling and running…" });
      setRequesting(true);
      try {
        const turn = await api("/api/execute/start", { code: code.value, language });
        if (mine !== generation) {
          if (turn.waitingForInput) kill(turn.sessionId); // stopped meanwhile: free the slot
          return;
        }
        handleTurn(turn);
      } catch (err) {
        if (mine === generation) handleError(err, false);
      } finally {
        if (mine === generation) setRequesting(false);
      }
    }

    async function sendInput(closeStdin) {
      if (!session || requesting) return;
      const id = session;
      const mine = generation;
      const text = line.value;
      line.value = "";
      setWaiting(false);
      if (text || !closeStdin) print(`${text}\n`, "term-input");
      if (closeStdin) system("(end of input sent)", "muted");
      setStatus(status, "running", { label: "Running…" });
      setRequesting(true);
      try {
        const turn = await api("/api/execute/input", { sessionId: id, input: text, eof: closeStdin });
        if (mine !== generation) return;
        handleTurn(turn);
      } catch (err) {
        if (mine !== generation) return;
        if (err instanceof ApiError && err.status === 409) {
          // Another input got there first: nothing changed, let the user retry.
          line.value = text;
          setWaiting(true);
        }
        handleError(err, true);
      } finally {
        if (mine === generation) setRequesting(false);
      }
    }

    function kill(id, keepalive = false) {
      return api("/api/execute/kill", { sessionId: id }, { keepalive }).catch(() => {});
    }

    async function stopSession() {
      const id = session;
      generation += 1;
      session = null;
      setWaiting(false);
      setRequesting(false);
      system("── Stopped by you ──", "muted");
      setStatus(status, "stopped", { message: "The program was stopped." });
      if (id) {
        try {
          await api("/api/execute/kill", { sessionId: id });
        } catch (err) {
          if (!(err instanceof ApiError && (err.status === 404 || err.status === 410))) {
            setStatus(status, "error", { message: `Could not stop the program: ${errorText(err)}` });
          }
        }
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sendInput(false);
    });
    eof.addEventListener("click", () => sendInput(true));
    line.addEventListener("keydown", (event) => {
      if (event.key === "d" && event.ctrlKey) {
        event.preventDefault();
        sendInput(true);
      }
    });
    window.addEventListener("pagehide", () => {
      if (session) kill(session, true);
    });

    setWaiting(false);
    return {
      start,
      stop: stopSession,
      active: () => requesting || session !== null,
    };
  })();

  // ------------------------------------------------------------------ manual input

  const manual = (() => {
    const stdin = $("stdin");
    const status = $("status-manual");
    const output = $("manual-output");
    let controller = null;

    const saved = store.get("stdin");
    stdin.value = typeof saved === "string" ? saved : "2 3\n";
    stdin.addEventListener("input", () => {
      const text = stdin.value;
      saveSoon("stdin", () => text);
    });

    function show(text, className) {
      output.className = `output ${className || ""}`.trim();
      output.replaceChildren();
      for (const [part, note] of splitNotes(text)) {
        output.append(note ? el("span", "output-note", part) : document.createTextNode(part));
      }
    }

    async function runOnce() {
      controller = new AbortController();
      busy.manual = true;
      updateButtons();
      setStatus(status, "running", { label: "Compiling and running…" });
      show("", "is-empty");
      try {
        const result = await api(
          "/api/execute/once",
          { code: code.value, language, stdin: stdin.value },
          { signal: controller.signal },
        );
        const text = typeof result.stdout === "string" ? result.stdout : "";
        show(text || "(no output)", `${result.status === "compile_error" ? "output--compile" : ""} ${text ? "" : "is-empty"}`);
        setStatus(status, result.status, { label: statusLabel(result), result });
      } catch (err) {
        if (err && err.name === "AbortError") {
          setStatus(status, "stopped", { message: "Stopped waiting for the result." });
        } else {
          const kind = err instanceof ApiError && err.kind === "busy" ? "busy" : "error";
          setStatus(status, kind, { message: errorText(err) });
        }
      } finally {
        controller = null;
        busy.manual = false;
        updateButtons();
      }
    }

    return {
      run: runOnce,
      stop: () => controller && controller.abort(),
    };
  })();

  // ------------------------------------------------------------------ competitive

  const competitive = (() => {
    const list = $("cases");
    const summary = $("status-competitive");
    const compileBox = $("judge-compile");
    const comparison = $("comparison");
    const tolerance = $("tolerance");
    const timeLimit = $("time-limit");
    let controller = null;

    const savedCases = store.get("cases");
    let cases = Array.isArray(savedCases) && savedCases.length
      ? savedCases.map((c) => ({ stdin: String(c.stdin ?? ""), expected: String(c.expected ?? "") }))
      : DEFAULT_CASES.map((c) => ({ ...c }));
    const savedOptions = store.get("judgeOptions") || {};
    if (["default", "exact", "float"].includes(savedOptions.comparison)) comparison.value = savedOptions.comparison;
    if (typeof savedOptions.tolerance === "string") tolerance.value = savedOptions.tolerance;
    if (typeof savedOptions.timeLimit === "string") timeLimit.value = savedOptions.timeLimit;

    function saveCases() {
      const snapshot = cases.map((c) => ({ ...c }));
      saveSoon("cases", () => snapshot);
    }
    function saveOptions() {
      const options = { comparison: comparison.value, tolerance: tolerance.value, timeLimit: timeLimit.value };
      saveSoon("judgeOptions", () => options);
      $("tolerance-field").hidden = comparison.value !== "float";
    }
    [comparison, tolerance, timeLimit].forEach((input) => input.addEventListener("input", saveOptions));
    comparison.addEventListener("change", saveOptions);
    $("tolerance-field").hidden = comparison.value !== "float";

    function field(labelText, id, value, onInput) {
      const wrap = el("div", "field");
      const label = el("label", null, labelText);
      label.htmlFor = id;
      const area = el("textarea", "case-text");
      area.id = id;
      area.rows = 3;
      area.spellcheck = false;
      area.value = value;
      area.addEventListener("input", () => onInput(area.value));
      wrap.append(label, area);
      return wrap;
    }

    function render() {
      list.replaceChildren();
      cases.forEach((testCase, i) => {
        const n = i + 1;
        const item = el("li", "case");
        item.dataset.index = String(i);
        const head = el("div", "case-head");
        const title = el("h3", "case-title", `Test ${n}`);
        title.id = `case-title-${i}`;
        const remove = el("button", "btn btn-ghost btn-small", "Remove");
        remove.type = "button";
        remove.setAttribute("aria-label", `Remove test ${n}`);
        remove.disabled = cases.length === 1;
        remove.addEventListener("click", () => {
          cases.splice(i, 1);
          saveCases();
          clearResults();
          render();
          const next = list.querySelectorAll(".case")[Math.min(i, cases.length - 1)];
          (next && next.querySelector("textarea") || $("add-case")).focus();
          announce(`Test ${n} removed.`);
        });
        head.append(title, remove);
        const fields = el("div", "case-fields");
        fields.append(
          field(`Input of test ${n}`, `case-${i}-stdin`, testCase.stdin, (v) => {
            testCase.stdin = v;
            saveCases();
          }),
          field(`Expected output of test ${n}`, `case-${i}-expected`, testCase.expected, (v) => {
            testCase.expected = v;
            saveCases();
          }),
        );
        const result = el("div", "case-result");
        result.id = `case-result-${i}`;
        item.append(head, fields, result);
        list.append(item);
      });
    }

    function clearResults() {
      compileBox.replaceChildren();
      compileBox.hidden = true;
      summary.replaceChildren();
    }

    $("add-case").addEventListener("click", () => {
      cases.push({ stdin: "", expected: "" });
      saveCases();
      clearResults();
      render();
      const added = list.lastElementChild.querySelector("textarea");
      if (added) added.focus();
    });

    function outputWithDifference(stdout, line) {
      const pre = el("pre", "output output--small");
      const lines = stdout.split("\n");
      if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
      lines.forEach((text, i) => {
        const row = el("span", i + 1 === line ? "out-line out-line--diff" : "out-line");
        row.append(el("span", "out-num", String(i + 1)), document.createTextNode(text || " "));
        if (i + 1 === line) row.append(el("span", "out-mark", "  ◀ first difference"));
        pre.append(row);
      });
      return pre;
    }

    function renderCase(result) {
      const slot = $(`case-result-${result.index}`);
      if (!slot) return;
      slot.replaceChildren();
      const head = el("div", "case-verdict");
      let label = null;
      if (result.verdict === "runtime_error" && result.signal) label = `Runtime error (${result.signal})`;
      else if (result.verdict === "runtime_error" && result.exitCode !== null) label = `Runtime error (exit code ${result.exitCode})`;
      head.append(badge(result.verdict, label));
      if (result.verdict === "compile_error") {
        head.append(el("span", "status-message", "Not run: the program did not compile."));
      } else if (result.verdict !== "skipped") {
        const chips = el("span", "chips");
        chips.append(el("span", "chip", `Time ${formatMs(result.timeMs)}`), el("span", "chip", `CPU ${formatMs(result.cpuMs)}`), el("span", "chip", `Memory ${formatKb(result.memoryKb)}`));
        head.append(chips);
      } else {
        head.append(el("span", "status-message", "Not run: the time budget ran out."));
      }
      slot.append(head);
      const diff = result.firstDifference;
      if (result.verdict === "wrong_answer" && diff) {
        const box = el("div", "diff");
        box.append(el("p", "diff-title", `First difference on line ${diff.line}`));
        const table = el("dl", "diff-table");
        table.append(
          el("dt", null, "Expected"),
          el("dd", "diff-expected", diff.expected ?? "(end of output)"),
          el("dt", null, "Got"),
          el("dd", "diff-got", diff.got ?? "(end of output)"),
        );
        box.append(table);
        slot.append(box);
      }
      if (result.verdict !== "skipped" && result.verdict !== "compile_error") {
        const details = el("details", "case-output");
        if (result.verdict === "wrong_answer" || result.stderr) details.open = true;
        details.append(el("summary", null, "Output"));
        const line = result.verdict === "wrong_answer" && diff ? diff.line : 0;
        if (result.stdout) details.append(outputWithDifference(result.stdout, line));
        else details.append(el("p", "muted", "(no output)"));
        if (result.stderr) {
          details.append(el("p", "stderr-title", "Standard error"));
          details.append(el("pre", "output output--small output--stderr", result.stderr));
        }
        slot.append(details);
      }
    }

    async function judge() {
      flushAll();
      const body = {
        code: code.value,
        language,
        comparison: comparison.value,
        testCases: cases.map((c) => {
          const testCase = { stdin: c.stdin, expectedOutput: c.expected };
          const limit = Number(timeLimit.value);
          if (timeLimit.value && Number.isFinite(limit) && limit > 0) testCase.timeLimitMs = Math.round(limit);
          return testCase;
        }),
      };
      if (comparison.value === "float") {
        const value = Number(tolerance.value);
        if (!Number.isFinite(value) || value < 0) {
          setStatus(summary, "error", { message: "The tolerance must be a non-negative number, e.g. 1e-6." });
          tolerance.focus();
          return;
        }
        body.floatTolerance = value;
      }
      controller = new AbortController();
      busy.competitive = true;
      updateButtons();
      clearResults();
      list.querySelectorAll(".case-result").forEach((slot) => slot.replaceChildren());
      setStatus(summary, "running", { label: `Judging ${cases.length} test${cases.length === 1 ? "" : "s"}…` });
      try {
        const report = await api("/api/execute/judge", body, { signal: controller.signal });
        const verdict = report.verdict || "accepted";
        const message = `${report.passed}/${report.total} passed`;
        setStatus(summary, verdict, { message });
        const chips = el("span", "chips");
        if (report.compile) {
          chips.append(el("span", "chip", `Compile ${formatMs(report.compile.durationMs)}${report.compile.cached ? " (cached)" : ""}`));
        }
        chips.append(el("span", "chip", `Total ${formatMs(report.totalMs ?? 0)}`));
        summary.append(chips);
        if (report.compile && !report.compile.success) {
          compileBox.hidden = false;
          compileBox.append(el("h3", "compile-title", "Compiler output"), el("pre", "output output--compile", report.compile.output || "(no diagnostics)"));
        }
        (report.cases || []).forEach(renderCase);
      } catch (err) {
        if (err && err.name === "AbortError") {
          setStatus(summary, "stopped", { message: "Stopped waiting for the verdicts." });
        } else {
          const kind = err instanceof ApiError && err.kind === "busy" ? "busy" : "error";
          setStatus(summary, kind, { message: errorText(err) });
        }
      } finally {
        controller = null;
        busy.competitive = false;
        updateButtons();
      }
    }

    render();
    return {
      run: judge,
      stop: () => controller && controller.abort(),
    };
  })();

  // ------------------------------------------------------------------ settings

  (() => {
    const toggle = $("settings-toggle");
    const panel = $("settings");
    const form = $("settings-form");
    const input = $("api-base");
    const feedback = $("settings-feedback");

    function open(show) {
      panel.hidden = !show;
      toggle.setAttribute("aria-expanded", String(show));
      if (show) {
        input.value = apiBase();
        input.focus();
      }
    }
    toggle.addEventListener("click", () => open(panel.hidden));
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        open(false);
        toggle.focus();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let url;
      try {
        url = new URL(input.value.trim());
      } catch {
        url = null;
      }
      if (!url || !/^https?:$/.test(url.protocol)) {
        feedback.textContent = "Enter a full http:// or https:// address, e.g. http://127.0.0.1:3001";
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      input.removeAttribute("aria-invalid");
      const base = (url.origin + url.pathname).replace(/\/+$/, "");
      input.value = base;
      store.set("apiBase", base === location.origin ? "" : base);
      feedback.textContent = `Saved: requests now go to ${base}.`;
      loadRuntimes();
    });
    $("api-base-reset").addEventListener("click", () => {
      store.set("apiBase", "");
      input.value = apiBase();
      input.removeAttribute("aria-invalid");
      feedback.textContent = `Reset: requests now go to ${apiBase()}.`;
      loadRuntimes();
    });
  })();

  // ------------------------------------------------------------------ start-up

  window.addEventListener("pagehide", flushAll);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flushAll();
  });
  window.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    notify(errorText(event.reason), "error");
  });

  setCode(savedCode(language));
  fillLanguages();
  selectMode(mode);
  loadRuntimes();
  document.documentElement.classList.add("is-ready");
})();
