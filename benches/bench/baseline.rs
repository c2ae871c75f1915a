//! The approach sr-runner replaces, reduced to its cost model: every request
//! compiles from scratch through a shell (no cache, no precompiled header), and
//! interactive output is collected by waiting a fixed 100 ms after each input.
//! It is called directly, without HTTP, so it is measured at its most favourable.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Baseline;

const SANDBOX_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

pub async fn spawn() -> Baseline {
    Baseline
}

fn shell_line(language: &str) -> (&'static str, &'static str) {
    match language {
        "c" => ("main.c", "gcc -O2 -o main main.c -lm && ./main"),
        "cpp" => ("main.cpp", "g++ -std=c++17 -O2 -o main main.cpp && ./main"),
        "java" => ("Main.java", "javac Main.java && java Main"),
        "python" => ("main.py", "python3 main.py"),
        other => panic!("baseline has no {other}"),
    }
}

impl Baseline {
    /// One request: write, compile and run through `sh -c`; milliseconds.
    pub async fn once(&self, language: &str, code: &str) -> f64 {
        let language = language.to_string();
        let code = code.to_string();
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            let (file, line) = shell_line(&language);
            let started = Instant::now();
            std::fs::write(dir.path().join(file), code).unwrap();
            let output = Command::new("sh")
                .arg("-c")
                .arg(line)
                // The same toolchains sr-runner uses, not a developer's shims.
                .env("PATH", SANDBOX_PATH)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            started.elapsed().as_secs_f64() * 1000.0
        })
        .await
        .unwrap()
    }

    /// Input round trips to a long-lived process: write a line, wait 100 ms,
    /// read whatever arrived (as the old server's sessions did).
    pub async fn interactive_round_trips(&self, n: usize) -> super::Stats {
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("main.cpp"), super::CPP_ECHO).unwrap();
            let built = Command::new("g++")
                .args(["-std=c++17", "-O2", "-o", "main", "main.cpp"])
                .current_dir(dir.path())
                .status()
                .unwrap();
            assert!(built.success());
            let mut child = Command::new(dir.path().join("main"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = child.stdout.take().unwrap();
            // Non-blocking reads of whatever the program printed so far.
            unsafe {
                use std::os::fd::AsRawFd;
                let fd = stdout.as_raw_fd();
                let flags = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
            let mut buf = [0u8; 4096];
            let mut samples = Vec::new();
            for k in 0..n {
                let started = Instant::now();
                writeln!(stdin, "x{k}").unwrap();
                stdin.flush().unwrap();
                std::thread::sleep(Duration::from_millis(100));
                while let Ok(read) = stdout.read(&mut buf) {
                    if read == 0 {
                        break;
                    }
                }
                samples.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            let _ = child.kill();
            let _ = child.wait();
            super::Stats::new(samples)
        })
        .await
        .unwrap()
    }
}
