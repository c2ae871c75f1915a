//! Starts one sandboxed process and supervises it to the end: feeds stdin while
//! reading stdout and stderr, enforces the wall clock and the output cap, and
//! guarantees that every process of the run is dead when it returns (or when the
//! future is dropped).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::watch;

use super::namespaces::MountPlan;
use super::sandbox::SandboxLease;
use super::waiting::{is_waiting_for_input, StdinPipe};
use crate::config::Limits;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub stdin: Vec<u8>,
    pub stdin_mode: StdinMode,
    pub limits: Limits,
}

/// What happens to stdin once the given bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinMode {
    /// Close it: the program sees end-of-file after the input.
    Close,
    /// Keep it open and stop the program as soon as it waits for more input.
    StopWhenWaiting,
}

/// Which stream a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Everything observed about one finished process.
#[derive(Debug, Clone, Default)]
pub struct ProcessOutcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// stdout and stderr interleaved in the order they arrived.
    pub combined: Vec<u8>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub output_truncated: bool,
    /// Stopped because the server is shutting down.
    pub cancelled: bool,
    /// Stopped because it blocked reading stdin with all given input consumed.
    pub waiting_for_input: bool,
    pub wall_time: Duration,
    pub cpu_time: Duration,
    pub peak_memory_kib: u64,
}

impl ProcessOutcome {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
            && !self.timed_out
            && !self.output_truncated
            && !self.cancelled
            && !self.waiting_for_input
    }
}

/// A shutdown signal every supervised process listens to.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    pub async fn triggered(&self) {
        let mut rx = self.0.clone();
        // An error means the sender is gone, which is also a shutdown.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Kills the run when dropped, so an abandoned future leaves nothing behind.
struct RunGuard<'a> {
    lease: &'a SandboxLease,
    pid: i32,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.lease.sandbox().kill_run(self.lease, self.pid);
        self.lease.sandbox().unregister_root(self.pid);
    }
}

/// Everything the child needs after `fork`, prepared before it (no allocation is
/// allowed between `fork` and `exec`).
struct ChildSetup {
    uid: Option<u32>,
    rlimits: Vec<(libc::__rlimit_resource_t, u64)>,
    mounts: Option<MountPlan>,
}

impl ChildSetup {
    /// Runs in the child between fork and exec: only async-signal-safe calls.
    fn apply(&self) -> io::Result<()> {
        fn check(rc: libc::c_int) -> io::Result<()> {
            if rc == -1 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
        // SAFETY: plain system calls on values prepared before fork.
        unsafe {
            // A new session: the run's processes share a session id and a process
            // group, and none of them can signal the server's terminal group.
            check(libc::setsid())?;
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
            // Namespaces need the privileges dropped just below.
            if let Some(mounts) = &self.mounts {
                mounts.apply()?;
            }
            if let Some(uid) = self.uid {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setresgid(uid, uid, uid))?;
                check(libc::setresuid(uid, uid, uid))?;
            }
            // Set after the uid change, which clears it.
            check(libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ))?;
            for &(resource, value) in &self.rlimits {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                check(libc::setrlimit(resource, &limit))?;
            }
        }
        Ok(())
    }
}

fn rlimits_for(limits: &Limits, shares_server_uid: bool) -> Vec<(libc::__rlimit_resource_t, u64)> {
    let mut processes = limits.processes;
    if shares_server_uid {
        // RLIMIT_NPROC counts every process of the real uid, the server's threads
        // and the developer's other programs included: allow for what exists.
        processes += current_uid_task_count();
    }
    vec![
        (libc::RLIMIT_CPU, limits.cpu_seconds()),
        (libc::RLIMIT_DATA, limits.memory_bytes),
        // 64 MiB: deep recursion works (judges commonly allow as much), and larger
        // stack limits together with RLIMIT_DATA make Node's V8 hang at start-up.
        (
            libc::RLIMIT_STACK,
            limits.memory_bytes.min(64 * 1024 * 1024),
        ),
        (libc::RLIMIT_NPROC, processes),
        (libc::RLIMIT_FSIZE, limits.file_size_bytes),
        (libc::RLIMIT_NOFILE, limits.open_files),
        (libc::RLIMIT_CORE, 0),
        (libc::RLIMIT_MEMLOCK, 0),
        (libc::RLIMIT_MSGQUEUE, 0),
    ]
}

fn current_uid_task_count() -> u64 {
    let uid = unsafe { libc::getuid() };
    super::sandbox::process_table()
        .values()
        .filter(|p| p.uid == uid)
        .map(|p| {
            std::fs::read_dir(format!("/proc/{}/task", p.pid))
                .map(|d| d.count() as u64)
                .unwrap_or(1)
        })
        .sum()
}

/// How often a program is checked for waiting on input: fast right after it
/// printed something (a prompt), backing off while it computes or sleeps.
const WAIT_POLL_MIN: Duration = Duration::from_millis(2);
const WAIT_POLL_MAX: Duration = Duration::from_millis(20);

/// rusage and the kernel's CPU-limit check disagree by a few ticks.
const CPU_ACCOUNTING_SLACK: Duration = Duration::from_millis(250);

/// Runs one process to completion under the sandbox lease.
pub async fn run_process(
    spec: &ProcessSpec,
    lease: &SandboxLease,
    shutdown: &Shutdown,
) -> io::Result<ProcessOutcome> {
    let sandbox = lease.sandbox();
    let mounts = if sandbox.namespaces() {
        // The cache may hold build outputs and the precompiled header: read-only.
        let read_only: Vec<&Path> = sandbox
            .server_dirs()
            .iter()
            .take(1)
            .map(|p| p.as_path())
            .collect();
        Some(MountPlan::new(
            spec.limits.file_size_bytes,
            &[spec.cwd.as_path()],
            &read_only,
        )?)
    } else {
        None
    };
    let setup = Arc::new(ChildSetup {
        uid: lease.uid(),
        rlimits: rlimits_for(&spec.limits, lease.uid().is_none()),
        mounts,
    });
    let program = resolve_program(&spec.argv[0], &spec.env)?;
    let mut command = Command::new(&program);
    command
        .args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child_setup = setup.clone();
    // SAFETY: `apply` only makes async-signal-safe system calls.
    unsafe {
        command.pre_exec(move || child_setup.apply());
    }
    let started = Instant::now();
    lease.mark_in_use();
    let mut child = command.spawn()?;
    let pid = child.id() as i32;
    lease.sandbox().register_root(pid);
    let guard = RunGuard { lease, pid };

    let stdin =
        pipe::Sender::from_owned_fd(OwnedFd::from(child.stdin.take().expect("stdin was piped")))?;
    let mut stdout = pipe::Receiver::from_owned_fd(OwnedFd::from(
        child.stdout.take().expect("stdout was piped"),
    ))?;
    let mut stderr = pipe::Receiver::from_owned_fd(OwnedFd::from(
        child.stderr.take().expect("stderr was piped"),
    ))?;
    // The std handle must never reap the child: wait4 below does, for its rusage.
    drop(child);

    let mut outcome = ProcessOutcome::default();
    let mut exit = tokio::task::spawn_blocking(move || wait_for_exit(pid));
    let stdin_pipe = StdinPipe::new(stdin.as_raw_fd())?;
    let feed_stdin = feed(stdin, &spec.stdin, spec.stdin_mode);
    tokio::pin!(feed_stdin);
    let deadline = tokio::time::sleep(spec.limits.wall_time);
    tokio::pin!(deadline);
    let cap = spec.limits.output_bytes;
    let mut out_buf = vec![0u8; 16 * 1024];
    let mut err_buf = vec![0u8; 16 * 1024];
    let (mut out_open, mut err_open, mut stdin_done) = (true, true, false);
    // Held open (after everything was written) while we watch for input waits.
    let mut held_stdin: Option<pipe::Sender> = None;
    let mut exited: Option<ExitInfo> = None;
    let mut poll_interval = WAIT_POLL_MIN;
    let watch = tokio::time::sleep(poll_interval);
    tokio::pin!(watch);

    // Supervise until the main process exits, a limit is hit, or it waits for input.
    while exited.is_none() {
        tokio::select! {
            result = &mut exit => { exited = Some(result.map_err(io::Error::other)??); }
            kept = &mut feed_stdin, if !stdin_done => {
                stdin_done = true;
                held_stdin = kept;
            }
            read = stdout.read(&mut out_buf), if out_open => {
                out_open = capture(read, &out_buf, Stream::Stdout, &mut outcome, cap);
                poll_interval = WAIT_POLL_MIN;
            }
            read = stderr.read(&mut err_buf), if err_open => {
                err_open = capture(read, &err_buf, Stream::Stderr, &mut outcome, cap);
                poll_interval = WAIT_POLL_MIN;
            }
            _ = &mut watch, if held_stdin.is_some() => {
                if is_waiting_for_input(pid, &stdin_pipe) {
                    outcome.waiting_for_input = true;
                    break;
                }
                // Poll fast right after activity, then back off.
                poll_interval = (poll_interval * 3 / 2).min(WAIT_POLL_MAX);
                watch.as_mut().reset(tokio::time::Instant::now() + poll_interval);
            }
            _ = &mut deadline => { outcome.timed_out = true; break; }
            _ = shutdown.triggered() => { outcome.cancelled = true; break; }
        }
        if outcome.output_truncated {
            break;
        }
    }
    // Kill whatever is left (the whole run on a limit; daemons and children after
    // a normal exit), then collect the exit status if we do not have it yet.
    drop(guard);
    // Only now: closing stdin before the kill would let a program that was
    // waiting for input read end-of-file and run on.
    drop(held_stdin);
    let exit_info = match exited {
        Some(info) => info,
        None => exit.await.map_err(io::Error::other)??,
    };
    // Every writer is dead now, so the pipes reach end-of-file promptly; the
    // timeout only guards against a kernel surprise.
    let drain = async {
        while out_open || err_open {
            tokio::select! {
                read = stdout.read(&mut out_buf), if out_open => {
                    out_open = capture(read, &out_buf, Stream::Stdout, &mut outcome, cap);
                }
                read = stderr.read(&mut err_buf), if err_open => {
                    err_open = capture(read, &err_buf, Stream::Stderr, &mut outcome, cap);
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;

    outcome.wall_time = started.elapsed();
    outcome.exit_code = exit_info.code;
    outcome.signal = exit_info.signal;
    outcome.cpu_time = exit_info.cpu_time;
    outcome.peak_memory_kib = exit_info.peak_memory_kib;
    // RLIMIT_CPU counts all threads: a multithreaded program can use it up before
    // the wall clock runs out. The kernel sends SIGXCPU, then SIGKILL.
    let cpu_limit = Duration::from_secs(spec.limits.cpu_seconds());
    let cpu_exhausted = exit_info.signal == Some(libc::SIGXCPU)
        || (exit_info.signal == Some(libc::SIGKILL)
            && exit_info.cpu_time + CPU_ACCOUNTING_SLACK >= cpu_limit);
    if cpu_exhausted {
        outcome.timed_out = true;
    }
    Ok(outcome)
}

/// Writes the input; hands the pipe back if it is to stay open.
async fn feed(mut stdin: pipe::Sender, data: &[u8], mode: StdinMode) -> Option<pipe::Sender> {
    // A program that exits or never reads makes this fail or wait; neither matters.
    let written = stdin.write_all(data).await.is_ok();
    (written && mode == StdinMode::StopWhenWaiting).then_some(stdin)
}

/// Appends a chunk to its stream and to the combined transcript, enforcing the cap.
/// Returns whether the stream is still open.
fn capture(
    read: io::Result<usize>,
    buf: &[u8],
    stream: Stream,
    outcome: &mut ProcessOutcome,
    cap: usize,
) -> bool {
    let n = match read {
        Ok(0) | Err(_) => return false,
        Ok(n) => n,
    };
    let target = match stream {
        Stream::Stdout => &mut outcome.stdout,
        Stream::Stderr => &mut outcome.stderr,
    };
    let room = cap.saturating_sub(target.len());
    let kept = n.min(room);
    target.extend_from_slice(&buf[..kept]);
    outcome.combined.extend_from_slice(&buf[..kept]);
    if kept < n {
        outcome.output_truncated = true;
    }
    true
}

#[derive(Debug)]
struct ExitInfo {
    code: Option<i32>,
    signal: Option<i32>,
    cpu_time: Duration,
    peak_memory_kib: u64,
}

fn wait_for_exit(pid: i32) -> io::Result<ExitInfo> {
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our child; status and usage are valid out-pointers.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let timeval = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
    };
    Ok(ExitInfo {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        cpu_time: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        peak_memory_kib: usage.ru_maxrss.max(0) as u64,
    })
}

/// Finds `program` on the spec's `PATH` (the child's environment, not the server's).
fn resolve_program(program: &str, env: &[(String, String)]) -> io::Result<PathBuf> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/bin:/bin");
    find_on_path(program, path).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{program} not found on {path}"),
        )
    })
}

/// The first executable file named `program` in the colon-separated `path`.
pub fn find_on_path(program: &str, path: &str) -> Option<PathBuf> {
    path.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
        let candidate = Path::new(dir).join(program);
        let c_path = CString::new(candidate.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: c_path is a valid NUL-terminated string.
        (unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } == 0 && candidate.is_file())
            .then_some(candidate)
    })
}
