//! Hostile programs: each gets a clear result within its limit, the server keeps
//! serving, and no process or file of the run survives.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{is_root, spawn_app, spawn_app_with, TestApp, SECRET_VALUE};

/// Runs `code`, checks it came back within `limit` plus a margin, that the server
/// still answers and that the run left nothing behind; returns the response.
async fn run_hostile(
    app: &TestApp,
    language: &str,
    code: &str,
    stdin: &str,
    limit: Duration,
) -> Value {
    let started = Instant::now();
    let body = app.run(language, code, stdin).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < limit + Duration::from_secs(3),
        "took {elapsed:?} against a limit of {limit:?}: {body}"
    );
    app.assert_serving().await;
    app.assert_clean().await;
    body
}

const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn an_infinite_loop_times_out() {
    let app = spawn_app().await;
    let body = run_hostile(
        &app,
        "c",
        "int main(void){ volatile unsigned long n = 0; for(;;) n++; }",
        "",
        LIMIT,
    )
    .await;
    assert_eq!(body["timedOut"], true, "{body}");
    assert_eq!(body["status"], "time_limit_exceeded");
    assert!(body["stdout"]
        .as_str()
        .unwrap()
        .contains("time limit exceeded"));
}

#[tokio::test]
async fn sleeping_forever_times_out() {
    let app = spawn_app().await;
    let body = run_hostile(
        &app,
        "python",
        "import time\nwhile True:\n    time.sleep(1000)",
        "",
        LIMIT,
    )
    .await;
    assert_eq!(body["timedOut"], true, "{body}");
}

#[tokio::test]
async fn a_program_that_stops_itself_with_sigstop_still_times_out() {
    let app = spawn_app().await;
    let code = "#include <signal.h>\n#include <stdio.h>\nint main(void){ printf(\"stopping\\n\"); fflush(stdout); raise(SIGSTOP); return 0; }";
    let body = run_hostile(&app, "c", code, "", LIMIT).await;
    assert_eq!(body["timedOut"], true, "{body}");
    assert!(body["stdout"].as_str().unwrap().starts_with("stopping\n"));
}

#[tokio::test]
async fn a_fork_bomb_is_contained() {
    let app = spawn_app_with(&[("RUN_TIMEOUT_SECS", "3")]).await;
    let code = "#include <unistd.h>\nint main(void){ for(;;) fork(); }";
    let body = run_hostile(&app, "c", code, "", Duration::from_secs(3)).await;
    assert_eq!(body["timedOut"], true, "{body}");
}

#[tokio::test]
async fn endless_output_is_cut_at_the_cap_and_stopped() {
    let app = spawn_app_with(&[("MAX_OUTPUT_BYTES", "10000")]).await;
    let body = run_hostile(
        &app,
        "python",
        "while True:\n    print('spam' * 20)",
        "",
        LIMIT,
    )
    .await;
    assert_eq!(body["outputTruncated"], true, "{body}");
    assert_eq!(body["status"], "output_limit_exceeded");
    assert!(body["run"]["stdout"].as_str().unwrap().len() <= 10_000);
    assert!(
        body["run"]["wallMs"].as_u64().unwrap() < 3000,
        "stopped at the cap, not at the time limit"
    );
}

#[tokio::test]
async fn a_python_memory_bomb_is_stopped_and_reported() {
    let app = spawn_app_with(&[("MEMORY_LIMIT_MB", "128")]).await;
    let code = "hoard = []\nwhile True:\n    hoard.append(bytearray(10 * 1024 * 1024))";
    let body = run_hostile(&app, "python", code, "", LIMIT).await;
    assert_eq!(body["memoryExceeded"], true, "{body}");
    assert_eq!(body["status"], "memory_limit_exceeded");
    assert!(body["stdout"].as_str().unwrap().contains("MemoryError"));
}

#[tokio::test]
async fn a_c_memory_bomb_is_stopped_and_reported() {
    let app = spawn_app_with(&[("MEMORY_LIMIT_MB", "128")]).await;
    let code = "#include <stdlib.h>\n#include <string.h>\nint main(void){ for(;;){ char *p = malloc(1<<20); memset(p, 1, 1<<20); } }";
    let body = run_hostile(&app, "c", code, "", LIMIT).await;
    assert_eq!(body["memoryExceeded"], true, "{body}");
    assert!(
        body["run"]["peakMemoryKb"].as_u64().unwrap() <= 130 * 1024,
        "{body}"
    );
}

#[tokio::test]
async fn writing_a_1gb_file_is_stopped_by_the_file_size_limit() {
    let app = spawn_app_with(&[("MAX_FILE_SIZE_MB", "16")]).await;
    let code = "#include <stdio.h>\n#include <string.h>\nint main(void){ static char buf[1<<20]; memset(buf, 'x', sizeof buf); FILE *f = fopen(\"big.bin\", \"w\"); for (int i = 0; i < 1024; i++) { if (fwrite(buf, 1, sizeof buf, f) != sizeof buf) { printf(\"write failed at %d MiB\\n\", i); return 1; } } fclose(f); printf(\"wrote 1 GB\\n\"); return 0; }";
    let body = run_hostile(&app, "c", code, "", LIMIT).await;
    assert_ne!(body["status"], "success", "{body}");
    assert_eq!(body["signal"], "SIGXFSZ", "{body}");
    assert!(!body["stdout"].as_str().unwrap().contains("wrote 1 GB"));
}

#[tokio::test]
async fn a_program_ignoring_8_mib_of_stdin_does_not_block() {
    let app = spawn_app_with(&[("MAX_STDIN_BYTES", "16777216")]).await;
    let stdin = "y".repeat(8 * 1024 * 1024);
    let body = run_hostile(&app, "python", "print('ignored you')", &stdin, LIMIT).await;
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(body["stdout"], "ignored you\n");
}

#[tokio::test]
async fn a_compile_that_never_ends_is_stopped() {
    let app = spawn_app_with(&[("COMPILE_TIMEOUT_SECS", "4")]).await;
    let body = run_hostile(
        &app,
        "c",
        "#include \"/dev/zero\"\nint main(void){}",
        "",
        Duration::from_secs(4),
    )
    .await;
    assert_eq!(body["status"], "compile_error", "{body}");
    assert!(body["run"].is_null());
}

#[tokio::test]
async fn a_double_forked_setsid_daemon_does_not_survive() {
    let app = spawn_app().await;
    let code = "#include <stdio.h>\n#include <unistd.h>\nint main(void){ if (fork() == 0) { setsid(); if (fork() == 0) { for(;;) sleep(1); } return 0; } printf(\"parent done\\n\"); return 0; }";
    let body = run_hostile(&app, "c", code, "", LIMIT).await;
    assert_eq!(body["stdout"], "parent done\n", "{body}");
    assert_eq!(body["status"], "success");
    // run_hostile already proved no process of the run is alive.
}

#[tokio::test]
async fn two_hundred_busy_java_threads_are_contained() {
    let app = spawn_app_with(&[("RUN_TIMEOUT_SECS", "4")]).await;
    if !app.has_language("java").await {
        return;
    }
    let code = "public class Main { public static void main(String[] a) throws Exception { for (int i = 0; i < 200; i++) { Thread t = new Thread(() -> { long n = 0; while (true) n++; }); t.setDaemon(false); t.start(); } System.out.println(\"started\"); } }";
    let body = run_hostile(&app, "java", code, "", Duration::from_secs(4)).await;
    assert_eq!(body["timedOut"], true, "{body}");
    // Starved of CPU by its own threads, main may not even get to print.
    assert!(body["run"]["cpuMs"].as_u64().unwrap() > 1000, "{body}");
}

#[tokio::test]
async fn programs_cannot_read_the_servers_environment() {
    let app = spawn_app().await;
    // Directly: the program's own environment is minimal.
    let body = run_hostile(
        &app,
        "python",
        "import os\nfor k, v in sorted(os.environ.items()):\n    print(k, v)",
        "",
        LIMIT,
    )
    .await;
    let shown = body["stdout"].as_str().unwrap();
    assert!(!shown.contains(SECRET_VALUE), "{shown}");
    assert!(!shown.contains("AWS_"), "{shown}");
    assert!(shown.contains("PATH"), "{shown}");

    // Through /proc: every process's environ and memory the program can open.
    let code = r#"
import os
found = []
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    for name in ('environ', 'cmdline'):
        try:
            with open(f'/proc/{pid}/{name}', 'rb') as f:
                found.append(f.read())
        except OSError:
            pass
    try:
        with open(f'/proc/{pid}/mem', 'rb') as f:
            found.append(f.read(4096))
    except OSError:
        pass
print('readable', len(found))
print(b'\n'.join(found).decode('latin-1'))
"#;
    let body = run_hostile(&app, "python", code, "", LIMIT).await;
    let shown = body["stdout"].as_str().unwrap();
    assert!(shown.starts_with("readable"), "{body}");
    assert!(
        !shown.contains(SECRET_VALUE),
        "the server's secret leaked through /proc"
    );
}

#[tokio::test]
async fn programs_run_as_an_unprivileged_uid_when_the_server_is_root() {
    if !is_root() {
        eprintln!("SKIPPED: uid-pool check needs the server to run as root");
        return;
    }
    let app = spawn_app().await;
    let body = run_hostile(
        &app,
        "python",
        "import os\nprint(os.getuid(), os.getgid(), os.getgroups())",
        "",
        LIMIT,
    )
    .await;
    let shown = body["stdout"].as_str().unwrap();
    let uid: u32 = shown.split_whitespace().next().unwrap().parse().unwrap();
    assert!(app.uid_range.contains(&uid), "ran as {uid}: {shown}");
    assert!(
        shown.trim_end().ends_with("[]"),
        "supplementary groups kept: {shown}"
    );
}
