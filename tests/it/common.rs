//! Test harness: a real server on a random port, typed request helpers, and
//! checks that a run left no process and no file behind.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sr_runner::runner::sandbox::live_processes_of_uid;
use sr_runner::server::Application;
use sr_runner::sessions::store::SessionStore;
use sr_runner::Config;
use tokio::sync::oneshot;

/// Each app gets its own uid range, so a test can prove that *its* runs left
/// nothing behind while other tests run in parallel.
static NEXT_UID_BLOCK: AtomicU32 = AtomicU32::new(0);
const UIDS_PER_APP: u32 = 8;

/// A secret planted in the test process's environment: no program may see it.
pub const SECRET_NAME: &str = "SR_RUNNER_TEST_SECRET";
pub const SECRET_VALUE: &str = "hunter2-must-never-leak-7f3a";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub uid_range: std::ops::Range<u32>,
    pub work_dir: PathBuf,
    pub app_state: sr_runner::AppState,
    stop: Option<oneshot::Sender<()>>,
    _work: tempfile::TempDir,
}

/// The shared compile cache of the test process (so the precompiled header and
/// toolchain builds are made once).
fn shared_cache_dir() -> PathBuf {
    std::env::temp_dir().join("sr-runner-test-cache")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_with_store(overrides, None).await
}

/// An app whose sessions live in `store` (the embedded store when `None`).
pub async fn spawn_app_with_store(
    overrides: &[(&str, &str)],
    store: Option<std::sync::Arc<dyn SessionStore>>,
) -> TestApp {
    plant_secret();
    let block = NEXT_UID_BLOCK.fetch_add(1, Ordering::SeqCst);
    // Different test binaries may run at once: offset by the process id too.
    let uid_base = 62000 + (std::process::id() % 64) * 512 + block * UIDS_PER_APP;
    let work = tempfile::tempdir().expect("work dir");
    let work_dir = work.path().join("runs");
    let mut vars: HashMap<String, String> = HashMap::from([
        ("PORT".into(), "0".into()),
        ("RUN_TIMEOUT_SECS".into(), "5".into()),
        ("COMPILE_TIMEOUT_SECS".into(), "20".into()),
        ("CACHE_DIR".into(), shared_cache_dir().display().to_string()),
        ("WORK_DIR".into(), work_dir.display().to_string()),
        ("SANDBOX_UID_BASE".into(), uid_base.to_string()),
        ("SANDBOX_UID_COUNT".into(), UIDS_PER_APP.to_string()),
    ]);
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_vars(vars).expect("valid test config");
    let application = match store {
        Some(store) => Application::build_with_store(config, store),
        None => Application::build(config).await,
    }
    .expect("application builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app_state = application.state.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        application
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
    });
    TestApp {
        base,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
        uid_range: uid_base..uid_base + UIDS_PER_APP,
        work_dir,
        app_state,
        stop: Some(stop),
        _work: work,
    }
}

fn plant_secret() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: set once, before any test thread reads the environment through
        // this crate (the runner never reads the server's environment for programs).
        unsafe { std::env::set_var(SECRET_NAME, SECRET_VALUE) };
    });
}

/// Whether the process runs as root (uid-pool sandbox).
pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self.post_raw(path, body.to_string()).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `/api/execute/once`, asserting a 200.
    pub async fn run(&self, language: &str, code: &str, stdin: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/execute/once",
                &json!({ "language": language, "code": code, "stdin": stdin }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `/api/execute/start`: (status, body).
    pub async fn start(&self, language: &str, code: &str) -> (u16, Value) {
        self.post(
            "/api/execute/start",
            &json!({ "language": language, "code": code }),
        )
        .await
    }

    /// `/api/execute/input`: (status, body).
    pub async fn input(&self, session: &str, input: &str) -> (u16, Value) {
        self.post(
            "/api/execute/input",
            &json!({ "sessionId": session, "input": input }),
        )
        .await
    }

    /// `/api/execute/kill`: (status, body).
    pub async fn kill(&self, session: &str) -> (u16, Value) {
        self.post("/api/execute/kill", &json!({ "sessionId": session }))
            .await
    }

    /// Whether a language's toolchain is installed. In CI every language must be:
    /// a missing one fails the test; elsewhere it is skipped with a visible line.
    pub async fn has_language(&self, language: &str) -> bool {
        let toolchains = self.app_state.runner.toolchains().await;
        let lang =
            sr_runner::runner::languages::Language::lookup(language).expect("known language");
        let toolchain = toolchains.get(lang.id);
        if toolchain.available {
            return true;
        }
        let why = toolchain.missing.clone().unwrap_or_default();
        if std::env::var_os("CI").is_some() {
            panic!("{language} toolchain missing in CI: {why}");
        }
        eprintln!("SKIPPED: {language} tests: toolchain not installed ({why})");
        false
    }

    /// Asserts that nothing of this app's runs survives: no live process in its
    /// uid range (root mode) and an empty work directory.
    pub async fn assert_clean(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let survivors: Vec<_> = if is_root() {
                self.uid_range
                    .clone()
                    .flat_map(live_processes_of_uid)
                    .collect()
            } else {
                Vec::new()
            };
            let mut leftovers: Vec<_> = std::fs::read_dir(&self.work_dir)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            if is_root() {
                leftovers.extend(self.shared_dir_leftovers());
            }
            if survivors.is_empty() && leftovers.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                panic!("run left survivors {survivors:?} and files {leftovers:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Triggers the server's graceful shutdown (what SIGTERM does).
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Entries in the shared writable directories owned by this app's uids.
    fn shared_dir_leftovers(&self) -> Vec<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let mut found = Vec::new();
        for dir in sr_runner::runner::sandbox::SHARED_WRITABLE_DIRS {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if let Ok(meta) = entry.path().symlink_metadata() {
                    if self.uid_range.contains(&meta.uid()) {
                        found.push(entry.path());
                    }
                }
            }
        }
        found
    }

    /// The server still answers.
    pub async fn assert_serving(&self) {
        let (status, body) = self.get("/api/health").await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
