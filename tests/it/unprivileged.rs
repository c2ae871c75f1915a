//! The same-uid mode (AWS Lambda, or a developer's own account), exercised for
//! real: the server binary is started as an unprivileged uid, so user programs
//! share its uid, and what must still hold is checked: runs work, the compile
//! cache works (verified by digest), and no process of a run survives it, a
//! double-forked daemon included (subreaper and tree kill).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sr_runner::runner::sandbox::live_processes_of_uid;

use crate::common::is_root;

/// An otherwise unused uid for the server (and so for its programs).
const SERVER_UID: u32 = 64123;

struct UnprivilegedServer {
    child: Child,
    base: String,
    client: reqwest::Client,
    _dirs: tempfile::TempDir,
}

impl Drop for UnprivilegedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = sr_runner::runner::sandbox::kill_all_of_uid(SERVER_UID);
    }
}

async fn start() -> UnprivilegedServer {
    let dirs = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dirs.path(), Some(SERVER_UID), Some(SERVER_UID)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_sr-runner"))
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .env("PREBUILD_PCH", "false")
        .env("RUN_TIMEOUT_SECS", "3")
        .env("CACHE_DIR", dirs.path().join("cache"))
        .env("WORK_DIR", dirs.path().join("runs"))
        .uid(SERVER_UID)
        .gid(SERVER_UID)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server as an unprivileged uid");
    let server = UnprivilegedServer {
        child,
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        _dirs: dirs,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = server
            .client
            .get(format!("{}/api/health", server.base))
            .send()
            .await
        {
            if response.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the unprivileged server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

impl UnprivilegedServer {
    async fn run(&self, language: &str, code: &str) -> Value {
        let response = self
            .client
            .post(format!("{}/api/execute/once", self.base))
            .json(&json!({ "language": language, "code": code }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Live processes of the server's uid other than the server itself.
    fn strays(&self) -> Vec<i32> {
        let server = self.child.id() as i32;
        live_processes_of_uid(SERVER_UID)
            .into_iter()
            .map(|p| p.pid)
            .filter(|pid| *pid != server)
            .collect()
    }

    async fn assert_no_strays(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let strays = self.strays();
            if strays.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "processes outlived their run: {strays:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn as_an_unprivileged_server_runs_are_contained_and_cleaned_up() {
    if !is_root() {
        eprintln!("SKIPPED: starting the server as another uid needs root");
        return;
    }
    let server = start().await;
    let (status, health) = {
        let response = server
            .client
            .get(format!("{}/api/health", server.base))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert!(status.is_success());
    assert!(
        health["sandbox"]["mode"]
            .as_str()
            .unwrap()
            .starts_with("SameUid"),
        "{health}"
    );
    assert!(
        health["sandbox"]["unavailable"]
            .to_string()
            .contains("not root"),
        "{health}"
    );

    let body = server.run("python", "import os\nprint(os.getuid())").await;
    assert_eq!(body["stdout"], format!("{SERVER_UID}\n"), "{body}");

    // The compile cache works in this mode too (entries verified by digest).
    let code = "#include <stdio.h>\nint main(void){ puts(\"cached\"); return 0; }";
    let first = server.run("c", code).await;
    let second = server.run("c", code).await;
    assert_eq!(first["compile"]["cached"], false, "{first}");
    assert_eq!(second["compile"]["cached"], true, "{second}");
    assert_eq!(second["stdout"], "cached\n");

    // A double-forked setsid daemon escapes the session and the parent; the
    // subreaper and the tree kill must still get it.
    let daemon = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/exploits/double_fork_daemon.c"),
    )
    .unwrap();
    let body = server.run("c", &daemon).await;
    assert_eq!(body["stdout"], "parent done\n", "{body}");
    server.assert_no_strays().await;

    // Limits hold: an infinite loop times out, and nothing is left.
    let body = server.run("c", "int main(void){ for(;;); }").await;
    assert_eq!(body["timedOut"], true, "{body}");
    server.assert_no_strays().await;
    let body = server
        .run(
            "c",
            "#include <unistd.h>\nint main(void){ for(;;) fork(); }",
        )
        .await;
    assert_eq!(body["status"], "time_limit_exceeded", "{body}");
    server.assert_no_strays().await;

    // The server survived all of it.
    let body = server.run("python", "print('still serving')").await;
    assert_eq!(body["stdout"], "still serving\n");
}
