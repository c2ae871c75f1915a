//! Request and response bodies of the HTTP API (camelCase, as the frontend expects).

use serde::{Deserialize, Serialize};

use crate::runner::process::ProcessOutcome;
use crate::runner::{CompileReport, Execution};

/// `POST /api/execute/once`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnceRequest {
    pub code: String,
    pub language: String,
    #[serde(default)]
    pub stdin: Option<String>,
}

/// The outcome category of a run, most severe cause first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Success,
    CompileError,
    TimeLimitExceeded,
    OutputLimitExceeded,
    MemoryLimitExceeded,
    KilledBySignal,
    RuntimeError,
    Cancelled,
    /// Interactive runs only: stopped while waiting for the next input.
    WaitingForInput,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompileBody {
    pub success: bool,
    pub output: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub cached: bool,
    pub used_precompiled_header: bool,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunBody {
    pub stdout: String,
    pub stderr: String,
    /// stdout and stderr interleaved in arrival order.
    pub output: String,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub timed_out: bool,
    pub output_truncated: bool,
    pub wall_ms: u64,
    pub cpu_ms: u64,
    pub peak_memory_kb: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub compile_ms: u64,
    pub run_wall_ms: u64,
    pub cpu_ms: u64,
    pub peak_memory_kb: u64,
}

/// The response of `/api/execute/once`. `stdout` is what the user should see
/// (the frontend reads only that field): the program's interleaved output, or the
/// compiler's diagnostics, followed by a note when a limit stopped the program.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionResponse {
    pub stdout: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub language: &'static str,
    pub version: Option<String>,
    pub compile: Option<CompileBody>,
    pub run: Option<RunBody>,
    pub timings: Timings,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn millis(duration: std::time::Duration) -> u64 {
    duration.as_millis() as u64
}

impl From<&CompileReport> for CompileBody {
    fn from(report: &CompileReport) -> Self {
        CompileBody {
            success: report.success,
            output: report.output.clone(),
            exit_code: report.exit_code,
            timed_out: report.timed_out,
            cached: report.cached,
            used_precompiled_header: report.used_pch,
            duration_ms: millis(report.duration),
        }
    }
}

impl From<&ProcessOutcome> for RunBody {
    fn from(run: &ProcessOutcome) -> Self {
        RunBody {
            stdout: text(&run.stdout),
            stderr: text(&run.stderr),
            output: text(&run.combined),
            exit_code: run.exit_code,
            signal: run.signal.map(signal_name),
            timed_out: run.timed_out,
            output_truncated: run.output_truncated,
            wall_ms: millis(run.wall_time),
            cpu_ms: millis(run.cpu_time),
            peak_memory_kb: run.peak_memory_kib,
        }
    }
}

impl ExecutionResponse {
    pub fn from_execution(execution: &Execution, limits: &crate::config::Limits) -> Self {
        let outcome = Outcome::of(execution);
        ExecutionResponse {
            stdout: display_output(execution, outcome.status, limits),
            outcome,
            language: execution.language.display_name,
            version: execution.version.clone(),
            timings: Timings::of(execution),
            compile: execution.compile.as_ref().map(CompileBody::from),
            run: execution.run.as_ref().map(RunBody::from),
        }
    }
}

/// How a run ended, as both `/api/execute/once` and the session endpoints report it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub timed_out: bool,
    pub output_truncated: bool,
    pub memory_exceeded: bool,
}

impl Outcome {
    pub fn of(execution: &Execution) -> Self {
        let memory_exceeded = execution.memory_exceeded();
        let run = execution.run.as_ref();
        Outcome {
            status: status_of(execution, memory_exceeded),
            exit_code: run.and_then(|r| r.exit_code),
            signal: run.and_then(|r| r.signal).map(signal_name),
            timed_out: run.is_some_and(|r| r.timed_out),
            output_truncated: run.is_some_and(|r| r.output_truncated),
            memory_exceeded,
        }
    }
}

impl Timings {
    fn of(execution: &Execution) -> Self {
        let run = execution.run.as_ref();
        Timings {
            compile_ms: execution.compile.as_ref().map_or(0, |c| millis(c.duration)),
            run_wall_ms: run.map_or(0, |r| millis(r.wall_time)),
            cpu_ms: run.map_or(0, |r| millis(r.cpu_time)),
            peak_memory_kb: run.map_or(0, |r| r.peak_memory_kib),
        }
    }
}

/// What the user should see: the program's interleaved output, or the compiler's
/// diagnostics, then a note when a limit or a signal stopped the program.
pub fn display_output(
    execution: &Execution,
    status: RunStatus,
    limits: &crate::config::Limits,
) -> String {
    let mut display = match (&execution.run, &execution.compile) {
        (Some(run), _) => text(&run.combined),
        (None, Some(compile)) => compile.output.clone(),
        (None, None) => String::new(),
    };
    if let Some(note) = limit_note(
        status,
        execution.run.as_ref(),
        limits,
        execution.run_wall_limit,
    ) {
        if !display.is_empty() && !display.ends_with('\n') {
            display.push('\n');
        }
        display.push_str(&note);
    }
    display
}

pub fn status_of(execution: &Execution, memory_exceeded: bool) -> RunStatus {
    let Some(run) = &execution.run else {
        return RunStatus::CompileError;
    };
    if run.cancelled {
        RunStatus::Cancelled
    } else if run.waiting_for_input {
        RunStatus::WaitingForInput
    } else if run.timed_out {
        RunStatus::TimeLimitExceeded
    } else if run.output_truncated {
        RunStatus::OutputLimitExceeded
    } else if memory_exceeded {
        RunStatus::MemoryLimitExceeded
    } else if run.signal.is_some() {
        RunStatus::KilledBySignal
    } else if run.exit_code != Some(0) {
        RunStatus::RuntimeError
    } else {
        RunStatus::Success
    }
}

/// A line telling the user why the program stopped, when it was not its own doing.
fn limit_note(
    status: RunStatus,
    run: Option<&ProcessOutcome>,
    limits: &crate::config::Limits,
    wall_limit: std::time::Duration,
) -> Option<String> {
    let note = match status {
        RunStatus::TimeLimitExceeded => format!(
            "time limit exceeded: the program was stopped after {:.1} s of wall-clock time or {} s of CPU time",
            wall_limit.as_secs_f64(),
            limits.cpu_seconds()
        ),
        RunStatus::OutputLimitExceeded => format!(
            "output limit exceeded: output was cut at {} bytes and the program was stopped",
            limits.output_bytes
        ),
        RunStatus::MemoryLimitExceeded => format!(
            "memory limit exceeded: the program may use at most {} MiB",
            limits.memory_bytes / (1024 * 1024)
        ),
        RunStatus::KilledBySignal => {
            let signal = run.and_then(|r| r.signal).unwrap_or(0);
            format!("the program was killed by {}", describe_signal(signal))
        }
        RunStatus::Cancelled => "the server is shutting down; the program was stopped".into(),
        _ => return None,
    };
    Some(format!("[sr-runner] {note}\n"))
}

/// `SIGSEGV`-style name of a signal number.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("SIG{signal}"),
    };
    name.to_string()
}

fn describe_signal(signal: i32) -> String {
    let meaning = match signal {
        libc::SIGSEGV => {
            " (segmentation fault: invalid memory access, often a stack overflow or a bad index)"
        }
        libc::SIGFPE => " (arithmetic error, e.g. division by zero)",
        libc::SIGABRT => " (aborted, e.g. a failed assertion or an uncaught C++ exception)",
        libc::SIGXFSZ => " (file size limit exceeded)",
        libc::SIGBUS => " (bus error)",
        libc::SIGKILL => " (killed)",
        _ => "",
    };
    format!("{}{meaning}", signal_name(signal))
}

/// `POST /api/execute/start`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartRequest {
    pub code: String,
    pub language: String,
}

/// `POST /api/execute/input`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRequest {
    pub session_id: String,
    #[serde(default)]
    pub input: String,
    /// Close stdin after this input, so programs reading to end-of-file finish.
    #[serde(default)]
    pub eof: bool,
}

/// `POST /api/execute/kill`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KillRequest {
    pub session_id: String,
}

/// The answer to a start or an input: only the output not shown before.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnResponse {
    pub session_id: String,
    pub output: String,
    pub waiting_for_input: bool,
    pub finished: bool,
    pub state: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub replay_diverged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub compile: Option<CompileBody>,
    pub timings: Timings,
    pub expires_at: i64,
}

pub const DIVERGED_MESSAGE: &str = "This program printed something different when it was replayed with your inputs (it may use randomness or the time), so the output above may not match. Showing the new output from the first difference.";

impl TurnResponse {
    pub fn from_turn(turn: &crate::sessions::Turn) -> Self {
        let session = &turn.session;
        let waiting = session.state == crate::sessions::model::SessionState::Waiting;
        TurnResponse {
            session_id: session.id.to_string(),
            output: turn.new_output.clone(),
            waiting_for_input: waiting,
            finished: !waiting,
            state: session.state.as_str(),
            outcome: turn.outcome.clone(),
            replay_diverged: turn.diverged,
            message: turn.diverged.then(|| DIVERGED_MESSAGE.to_string()),
            compile: turn.execution.compile.as_ref().map(CompileBody::from),
            timings: Timings::of(&turn.execution),
            expires_at: session.expires_at,
        }
    }
}

/// `GET /api/execute/output/:id`: the whole transcript and the state.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptResponse {
    pub session_id: String,
    pub output: String,
    pub waiting_for_input: bool,
    pub finished: bool,
    pub state: &'static str,
    pub status: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub inputs: usize,
    pub created_at: i64,
    pub last_activity_at: i64,
    pub expires_at: i64,
}

impl From<&crate::sessions::model::Session> for TranscriptResponse {
    fn from(session: &crate::sessions::model::Session) -> Self {
        let waiting = session.state == crate::sessions::model::SessionState::Waiting;
        let ending = session.ending.clone().unwrap_or_default();
        TranscriptResponse {
            session_id: session.id.to_string(),
            output: session.transcript.clone(),
            waiting_for_input: waiting,
            finished: !waiting,
            state: session.state.as_str(),
            status: session.ending.as_ref().map(|e| e.status.clone()),
            exit_code: ending.exit_code,
            signal: ending.signal,
            inputs: session.inputs.len(),
            created_at: session.created_at,
            last_activity_at: session.last_activity_at,
            expires_at: session.expires_at,
        }
    }
}

/// One test case of `POST /api/execute/judge`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeCaseRequest {
    #[serde(default)]
    pub stdin: String,
    pub expected_output: String,
    /// Tighter per-case time limit, in milliseconds.
    #[serde(default)]
    pub time_limit_ms: Option<u64>,
}

/// `POST /api/execute/judge`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeRequest {
    pub code: String,
    pub language: String,
    pub test_cases: Vec<JudgeCaseRequest>,
    /// `default` (ignore trailing whitespace and blank lines), `exact` or `float`.
    #[serde(default)]
    pub comparison: Option<String>,
    /// Tolerance of `float` comparison (default 1e-6).
    #[serde(default)]
    pub float_tolerance: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeResponse {
    /// `accepted`, or the first verdict that is not.
    pub verdict: crate::judge::Verdict,
    pub passed: usize,
    pub total: usize,
    pub language: &'static str,
    pub compile: Option<CompileBody>,
    pub cases: Vec<crate::judge::CaseResult>,
    pub total_ms: u64,
}
