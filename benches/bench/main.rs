//! sr-runner's benchmark harness: `cargo bench` (add `-- --quick` for fewer
//! iterations). Every figure comes from real HTTP requests against the real
//! server, and the old approach (a shell per request, no cache, fixed 100 ms
//! waits for interactive output) is measured side by side in the same run by a
//! small baseline server written for this purpose. Prints a Markdown table.

#[path = "../../tests/it/dynamo_local.rs"]
#[allow(dead_code)]
mod dynamo_local;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sr_runner::server::Application;
use sr_runner::sessions::store::memory::MemoryStore;
use sr_runner::sessions::store::SessionStore;
use sr_runner::Config;

mod baseline;

const C_HELLO: &str = "#include <stdio.h>\nint main(void){ puts(\"hello\"); return 0; }";
const CPP_STDCXX: &str = "#include <bits/stdc++.h>\nusing namespace std;\nint main(){ ios::sync_with_stdio(false); vector<int> v{3,1,2}; sort(v.begin(), v.end()); cout << v[0] << '\\n'; }";
const CPP_ECHO: &str = "#include <bits/stdc++.h>\nusing namespace std;\nint main(){ string s; while (true) { cout << \"> \" << flush; if (!(cin >> s)) break; cout << \"got \" << s << '\\n'; } }";
const JAVA_HELLO: &str =
    "public class Main { public static void main(String[] a) { System.out.println(\"hello\"); } }";
const PY_HELLO: &str = "print('hello')";

/// A nonce so each "first run" misses the compile cache.
fn fresh(code: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{code}\n// fresh {stamp} {n}\n")
}

#[derive(Debug, Clone)]
struct Stats {
    samples: Vec<f64>,
}

impl Stats {
    fn new(mut samples: Vec<f64>) -> Self {
        samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
        Stats { samples }
    }
    fn quantile(&self, q: f64) -> f64 {
        if self.samples.is_empty() {
            return f64::NAN;
        }
        let index = ((self.samples.len() - 1) as f64 * q).round() as usize;
        self.samples[index]
    }
    fn median(&self) -> f64 {
        self.quantile(0.5)
    }
    fn p99(&self) -> f64 {
        self.quantile(0.99)
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value, f64) {
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}{}", self.base, path))
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        (status, value, started.elapsed().as_secs_f64() * 1000.0)
    }

    async fn once(&self, language: &str, code: &str, stdin: &str) -> (Value, f64) {
        let (status, body, ms) = self
            .post(
                "/api/execute/once",
                &json!({ "language": language, "code": code, "stdin": stdin }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        (body, ms)
    }
}

async fn spawn_server(store: Arc<dyn SessionStore>) -> Client {
    let work = std::env::temp_dir().join(format!("sr-runner-bench-{}", std::process::id()));
    let vars = HashMap::from([
        (
            "CACHE_DIR".to_string(),
            std::env::temp_dir()
                .join("sr-runner-bench-cache")
                .display()
                .to_string(),
        ),
        ("WORK_DIR".to_string(), work.display().to_string()),
        ("SANDBOX_UID_BASE".to_string(), "63000".to_string()),
        ("SANDBOX_UID_COUNT".to_string(), "32".to_string()),
        ("MAX_CONCURRENT_RUNS".to_string(), "4".to_string()),
        ("QUEUE_CAPACITY".to_string(), "256".to_string()),
        ("QUEUE_WAIT_SECS".to_string(), "60".to_string()),
    ]);
    let config = Config::from_vars(vars).expect("config");
    let application = Application::build_with_store(config, store).expect("app");
    application.state.runner.warm_up().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        application
            .serve(listener, std::future::pending())
            .await
            .unwrap()
    });
    Client {
        http: reqwest::Client::new(),
        base,
    }
}

struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    fn row(
        &mut self,
        what: &str,
        goal: &str,
        ours: impl Into<String>,
        baseline: impl Into<String>,
        note: impl Into<String>,
    ) {
        self.rows.push([
            what.into(),
            goal.into(),
            ours.into(),
            baseline.into(),
            note.into(),
        ]);
        let last = self.rows.last().unwrap();
        eprintln!(
            "  {} | {} | {} | {} | {}",
            last[0], last[1], last[2], last[3], last[4]
        );
    }

    fn print(&self) {
        println!("| measurement | goal | sr-runner | baseline (old approach) | notes |");
        println!("| --- | --- | --- | --- | --- |");
        for row in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} |",
                row[0], row[1], row[2], row[3], row[4]
            );
        }
    }
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

fn ratio(baseline: f64, ours: f64) -> String {
    format!("{:.1}× faster", baseline / ours)
}

/// Median wall time of `n` runs of a command, to know the physical floor.
fn command_floor(n: usize, program: &str, args: &[&str]) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let status = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if status.is_err() {
            return f64::NAN;
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Stats::new(samples).median()
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = |n: usize| if quick { (n / 5).max(3) } else { n };
    let mut table = Table { rows: Vec::new() };
    eprintln!("starting servers...");
    let ours = spawn_server(Arc::new(MemoryStore::new(20))).await;
    let base = baseline::spawn().await;

    // --- Overhead of a cached C program -----------------------------------
    ours.once("c", C_HELLO, "").await;
    let mut overhead = Vec::new();
    let mut e2e = Vec::new();
    for _ in 0..scale(300) {
        let (body, total) = ours.once("c", C_HELLO, "").await;
        let own = body["run"]["wallMs"].as_f64().unwrap();
        overhead.push(total - own);
        e2e.push(total);
    }
    let overhead = Stats::new(overhead);
    table.row(
        "overhead of /api/execute/once (cached C), median",
        "≤ 3 ms",
        ms(overhead.median()),
        "–",
        "end-to-end minus the program's own wall time",
    );
    table.row(
        "overhead of /api/execute/once (cached C), p99",
        "≤ 10 ms",
        ms(overhead.p99()),
        "–",
        String::new(),
    );

    // --- Repeat runs (cache hits) ------------------------------------------
    let c_repeat = Stats::new(e2e);
    let mut baseline_c = Vec::new();
    for _ in 0..scale(20) {
        baseline_c.push(base.once("c", C_HELLO).await);
    }
    let baseline_c = Stats::new(baseline_c);
    table.row(
        "repeat run, C hello (cache hit), median",
        "≤ 15 ms",
        ms(c_repeat.median()),
        ms(baseline_c.median()),
        ratio(baseline_c.median(), c_repeat.median()),
    );
    ours.once("cpp", CPP_STDCXX, "").await;
    let mut cpp_repeat = Vec::new();
    for _ in 0..scale(100) {
        cpp_repeat.push(ours.once("cpp", CPP_STDCXX, "").await.1);
    }
    let cpp_repeat = Stats::new(cpp_repeat);
    let mut baseline_cpp = Vec::new();
    for _ in 0..scale(5) {
        baseline_cpp.push(base.once("cpp", CPP_STDCXX).await);
    }
    let baseline_cpp = Stats::new(baseline_cpp);
    table.row(
        "repeat run, C++ bits/stdc++.h -O2 (cache hit), median",
        "≤ 15 ms",
        ms(cpp_repeat.median()),
        ms(baseline_cpp.median()),
        ratio(baseline_cpp.median(), cpp_repeat.median()),
    );

    // --- First runs (cache misses) ------------------------------------------
    let mut first_cpp = Vec::new();
    for _ in 0..scale(10) {
        first_cpp.push(ours.once("cpp", &fresh(CPP_STDCXX), "").await.1);
    }
    let first_cpp = Stats::new(first_cpp);
    table.row(
        "first run, C++ bits/stdc++.h -O2, median",
        "≤ 800 ms",
        ms(first_cpp.median()),
        ms(baseline_cpp.median()),
        format!(
            "{}; precompiled header",
            ratio(baseline_cpp.median(), first_cpp.median())
        ),
    );
    let mut first_c = Vec::new();
    for _ in 0..scale(20) {
        first_c.push(ours.once("c", &fresh(C_HELLO), "").await.1);
    }
    let first_c = Stats::new(first_c);
    table.row(
        "first run, C hello, median",
        "≤ 150 ms",
        ms(first_c.median()),
        ms(baseline_c.median()),
        ratio(baseline_c.median(), first_c.median()),
    );
    let mut python = Vec::new();
    for _ in 0..scale(50) {
        python.push(ours.once("python", PY_HELLO, "").await.1);
    }
    let python = Stats::new(python);
    let mut baseline_python = Vec::new();
    for _ in 0..scale(20) {
        baseline_python.push(base.once("python", PY_HELLO).await);
    }
    let baseline_python = Stats::new(baseline_python);
    let python_floor = command_floor(20, "/usr/bin/python3", &["-c", "print('hello')"]);
    table.row(
        "Python hello, median",
        "≤ 60 ms",
        ms(python.median()),
        ms(baseline_python.median()),
        format!("python3 alone: {}", ms(python_floor)),
    );
    let mut java_first = Vec::new();
    for _ in 0..scale(5) {
        java_first.push(ours.once("java", &fresh(JAVA_HELLO), "").await.1);
    }
    let java_first = Stats::new(java_first);
    let mut baseline_java = Vec::new();
    for _ in 0..scale(5) {
        baseline_java.push(base.once("java", JAVA_HELLO).await);
    }
    let baseline_java = Stats::new(baseline_java);
    table.row(
        "first run, Java hello, median",
        "≤ 1200 ms",
        ms(java_first.median()),
        ms(baseline_java.median()),
        ratio(baseline_java.median(), java_first.median()),
    );
    ours.once("java", JAVA_HELLO, "").await;
    let mut java_repeat = Vec::new();
    for _ in 0..scale(30) {
        java_repeat.push(ours.once("java", JAVA_HELLO, "").await.1);
    }
    let java_repeat = Stats::new(java_repeat);
    let java_floor = command_floor(
        10,
        "/usr/bin/java",
        &["-Xshare:auto", "-XX:+UseSerialGC", "-version"],
    );
    table.row(
        "repeat run, Java hello, median",
        "≤ 150 ms",
        ms(java_repeat.median()),
        ms(baseline_java.median()),
        format!("JVM start alone (java -version): {}", ms(java_floor)),
    );

    // --- Interactive round trips ---------------------------------------------
    let memory_rt = interactive_round_trips(&ours, scale(30)).await;
    let baseline_rt = base.interactive_round_trips(scale(10)).await;
    table.row(
        "interactive input round trip, cached C++ (memory store), median",
        "≤ 40 ms",
        ms(memory_rt.median()),
        ms(baseline_rt.median()),
        format!(
            "baseline waits a fixed 100 ms; {}",
            ratio(baseline_rt.median(), memory_rt.median())
        ),
    );
    let (store, _) = dynamo_local::fresh_store(20, true).await;
    let on_dynamo = spawn_server(Arc::new(store)).await;
    on_dynamo.once("cpp", CPP_ECHO, "").await;
    let dynamo_rt = interactive_round_trips(&on_dynamo, scale(30)).await;
    table.row(
        "interactive input round trip, DynamoDB Local store, median",
        "reported",
        ms(dynamo_rt.median()),
        "–",
        format!(
            "added by the store: {}",
            ms(dynamo_rt.median() - memory_rt.median())
        ),
    );

    // --- Replay scaling ----------------------------------------------------------
    let (_, started, _) = ours
        .post(
            "/api/execute/start",
            &json!({ "language": "cpp", "code": CPP_ECHO }),
        )
        .await;
    let id = started["sessionId"].as_str().unwrap().to_string();
    let mut replay = Vec::new();
    for k in 1..=50 {
        let (status, body, elapsed) = ours
            .post(
                "/api/execute/input",
                &json!({ "sessionId": id, "input": format!("w{k}") }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        if [1, 10, 25, 50].contains(&k) {
            replay.push(format!("{k}: {}", ms(elapsed)));
        }
    }
    ours.post("/api/execute/kill", &json!({ "sessionId": id }))
        .await;
    table.row(
        "replay cost vs inputs replayed (k-th input)",
        "linear in the program's work",
        replay.join(", "),
        "–",
        "each input replays all earlier ones",
    );

    // --- Output size scaling ----------------------------------------------------
    let mut sizes = Vec::new();
    for kb in [1, 8, 32, 63] {
        let code = format!("#include <stdio.h>\nint main(void){{ for (int i = 0; i < {}; i++) putchar(i % 64 == 63 ? '\\n' : 'x'); return 0; }}", kb * 1024);
        ours.once("c", &code, "").await;
        let mut samples = Vec::new();
        for _ in 0..scale(20) {
            samples.push(ours.once("c", &code, "").await.1);
        }
        sizes.push(format!("{kb} KB: {}", ms(Stats::new(samples).median())));
    }
    table.row(
        "run time vs output size",
        "linear",
        sizes.join(", "),
        "–",
        "cached C",
    );

    // --- Judge: 20 cases, one compile -----------------------------------------
    let judge_code = fresh(
        CPP_STDCXX
            .replace(
                "vector<int> v{3,1,2}",
                "long long a,b; cin>>a>>b; vector<long long> v{a+b}",
            )
            .as_str(),
    );
    let cases: Vec<Value> = (0..20)
        .map(|i| json!({ "stdin": format!("{i} 1\n"), "expectedOutput": format!("{}\n", i + 1) }))
        .collect();
    let (status, judged, judge_ms) = ours
        .post(
            "/api/execute/judge",
            &json!({ "language": "cpp", "code": judge_code, "testCases": cases }),
        )
        .await;
    assert_eq!(status, 200, "{judged}");
    assert_eq!(judged["passed"], 20, "{judged}");
    let compile_ms = judged["compile"]["durationMs"].as_f64().unwrap_or(0.0);
    let single_run = cpp_repeat.median();
    let mut baseline_judge = 0.0;
    for _ in 0..20 {
        baseline_judge += base.once("cpp", CPP_STDCXX).await;
    }
    table.row(
        "judge, 20 cases of C++ (one compile)",
        "≤ compile + 20 × run",
        ms(judge_ms),
        ms(baseline_judge),
        format!(
            "compile {} + 20 × {} = {}; {}",
            ms(compile_ms),
            ms(single_run),
            ms(compile_ms + 20.0 * single_run),
            ratio(baseline_judge, judge_ms)
        ),
    );

    // --- Throughput ----------------------------------------------------------------
    for clients in [1usize, 2, 4, 8, 16] {
        let per_client = scale(40);
        let started = Instant::now();
        let ours = Arc::new(Client {
            http: reqwest::Client::new(),
            base: ours.base.clone(),
        });
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let ours = ours.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    for _ in 0..per_client {
                        let (status, _, ms) = ours
                            .post(
                                "/api/execute/once",
                                &json!({ "language": "c", "code": C_HELLO }),
                            )
                            .await;
                        assert_eq!(status, 200);
                        latencies.push(ms);
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let elapsed = started.elapsed().as_secs_f64();
        let stats = Stats::new(latencies);
        table.row(
            &format!("throughput, {clients} concurrent clients (cached C)"),
            "no errors",
            format!("{:.0} req/s", (clients * per_client) as f64 / elapsed),
            "–",
            format!(
                "p50 {} p99 {}, 0 errors",
                ms(stats.median()),
                ms(stats.p99())
            ),
        );
    }

    // --- Footprint and start-up -------------------------------------------------------
    let (ready_ms, rss_kb) = startup_and_footprint();
    table.row(
        "start-up to first served request",
        "≤ 100 ms",
        ms(ready_ms),
        "–",
        "release binary, fresh process",
    );
    table.row(
        "idle RSS",
        "≤ 25 MB",
        format!("{:.1} MB", rss_kb as f64 / 1024.0),
        "–",
        "after start-up, no runs",
    );

    // --- Physical floors ------------------------------------------------------------------
    table.row(
        "floor: fork+exec of /bin/true",
        "–",
        ms(command_floor(50, "/bin/true", &[])),
        "–",
        "what any runner pays per process",
    );
    table.row(
        "floor: node -e 0",
        "–",
        ms(command_floor(10, "/usr/bin/node", &["-e", "0"])),
        "–",
        "Node's own start-up",
    );

    println!();
    table.print();
}

async fn interactive_round_trips(client: &Client, n: usize) -> Stats {
    let (status, started, _) = client
        .post(
            "/api/execute/start",
            &json!({ "language": "cpp", "code": CPP_ECHO }),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["sessionId"].as_str().unwrap().to_string();
    let mut samples = Vec::new();
    for k in 0..n {
        // A new session every 5 inputs keeps replays short, as in a real dialogue.
        let (status, body, elapsed) = client
            .post(
                "/api/execute/input",
                &json!({ "sessionId": id, "input": format!("x{k}") }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        samples.push(elapsed);
    }
    client
        .post("/api/execute/kill", &json!({ "sessionId": id }))
        .await;
    Stats::new(samples)
}

/// Start-up of the release binary to its first answered request, and its
/// resident memory when idle.
fn startup_and_footprint() -> (f64, u64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sr-runner"))
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .env("PREBUILD_PCH", "false")
        .env(
            "CACHE_DIR",
            std::env::temp_dir().join("sr-runner-bench-cache"),
        )
        .env(
            "WORK_DIR",
            std::env::temp_dir().join("sr-runner-bench-startup"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("release binary");
    // A loopback server answers only requests addressed to a loopback name.
    let ready = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream.write_all(
                b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            if response.starts_with("HTTP/1.1 200") {
                break started.elapsed().as_secs_f64() * 1000.0;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    std::thread::sleep(Duration::from_millis(1500));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    (ready, rss)
}
