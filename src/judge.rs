//! Judge mode for competitive programmers: compile once, run every test case
//! (in parallel, up to the concurrency limit), and give each a verdict the way
//! online judges do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::api::types::{status_of, RunStatus};
use crate::config::Limits;
use crate::runner::languages::Language;
use crate::runner::process::ProcessOutcome;
use crate::runner::{CompileReport, Execution, InputMode, RunError, RunRequest, Runner};

/// At most this many test cases per request.
pub const MAX_TEST_CASES: usize = 50;
/// All stdin and expected output of a request together.
pub const MAX_TOTAL_CASE_BYTES: usize = 8 * 1024 * 1024;
/// Output kept per case in the response (the full output was compared).
const SHOWN_OUTPUT_BYTES: usize = 4096;

#[derive(Debug, Clone)]
pub struct TestCase {
    pub stdin: String,
    pub expected_output: String,
    /// Tighter than the server's run limit, never looser.
    pub time_limit: Option<Duration>,
}

/// How output is compared with the expected output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    /// Trailing whitespace on each line and trailing blank lines are ignored.
    Lenient,
    /// Byte for byte.
    Exact,
    /// As `Lenient`, and numeric tokens may differ by `tolerance` (absolute, or
    /// relative to the expected value when that is larger).
    Float { tolerance: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    WrongAnswer,
    TimeLimitExceeded,
    MemoryLimitExceeded,
    RuntimeError,
    OutputLimitExceeded,
    CompileError,
    /// Not run: the request's time budget ran out first.
    Skipped,
}

/// Where the output first departs from the expected output (1-based line).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub line: usize,
    pub expected: Option<String>,
    pub got: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResult {
    pub index: usize,
    pub verdict: Verdict,
    pub time_ms: u64,
    pub cpu_ms: u64,
    pub memory_kb: u64,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub stdout: String,
    pub stderr: String,
    pub first_difference: Option<Difference>,
}

#[derive(Debug)]
pub struct JudgeReport {
    pub compile: Option<CompileReport>,
    pub cases: Vec<CaseResult>,
    pub elapsed: Duration,
}

impl JudgeReport {
    /// The first verdict that is not `accepted`, or `accepted`.
    pub fn verdict(&self) -> Verdict {
        self.cases
            .iter()
            .map(|c| c.verdict)
            .find(|v| *v != Verdict::Accepted)
            .unwrap_or(Verdict::Accepted)
    }

    pub fn passed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.verdict == Verdict::Accepted)
            .count()
    }
}

/// Normalised lines: `\r\n` as `\n`, trailing whitespace gone, trailing blank lines gone.
fn lenient_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').map(|l| l.trim_end()).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn tokens_match(expected: &str, got: &str, tolerance: f64) -> bool {
    let (e, g): (Vec<&str>, Vec<&str>) = (
        expected.split_whitespace().collect(),
        got.split_whitespace().collect(),
    );
    e.len() == g.len()
        && e.iter().zip(&g).all(|(e, g)| {
            if e == g {
                return true;
            }
            match (e.parse::<f64>(), g.parse::<f64>()) {
                (Ok(e), Ok(g)) if e.is_finite() && g.is_finite() => {
                    (e - g).abs() <= tolerance * e.abs().max(1.0)
                }
                _ => false,
            }
        })
}

/// Compares output with the expected output; `None` when they match.
pub fn compare(expected: &str, got: &str, comparison: Comparison) -> Option<Difference> {
    let (expected_lines, got_lines): (Vec<&str>, Vec<&str>) = match comparison {
        Comparison::Exact => {
            if expected == got {
                return None;
            }
            (expected.split('\n').collect(), got.split('\n').collect())
        }
        Comparison::Lenient | Comparison::Float { .. } => {
            (lenient_lines(expected), lenient_lines(got))
        }
    };
    let lines_equal = |e: &str, g: &str| match comparison {
        Comparison::Float { tolerance } => tokens_match(e, g, tolerance),
        _ => e == g,
    };
    let longest = expected_lines.len().max(got_lines.len());
    for i in 0..longest {
        let (e, g) = (expected_lines.get(i), got_lines.get(i));
        let same = matches!((e, g), (Some(e), Some(g)) if lines_equal(e, g));
        if !same {
            return Some(Difference {
                line: i + 1,
                expected: e.map(|s| s.to_string()),
                got: g.map(|s| s.to_string()),
            });
        }
    }
    None
}

fn shown(bytes: &[u8]) -> String {
    let cut = bytes.len().min(SHOWN_OUTPUT_BYTES);
    String::from_utf8_lossy(&bytes[..cut]).into_owned()
}

fn case_result(
    index: usize,
    case: &TestCase,
    execution: &Execution,
    comparison: Comparison,
) -> CaseResult {
    let Some(run) = &execution.run else {
        return CaseResult {
            index,
            verdict: Verdict::CompileError,
            ..skipped(index)
        };
    };
    // The same classification as every other run, then the output comparison.
    let mut first_difference = None;
    let verdict = match status_of(execution, execution.memory_exceeded()) {
        RunStatus::TimeLimitExceeded => Verdict::TimeLimitExceeded,
        RunStatus::OutputLimitExceeded => Verdict::OutputLimitExceeded,
        RunStatus::MemoryLimitExceeded => Verdict::MemoryLimitExceeded,
        RunStatus::Success => {
            let got = String::from_utf8_lossy(&run.stdout);
            first_difference = compare(&case.expected_output, &got, comparison);
            if first_difference.is_some() {
                Verdict::WrongAnswer
            } else {
                Verdict::Accepted
            }
        }
        RunStatus::CompileError => Verdict::CompileError,
        // A signal, a non-zero exit, or a run stopped by a shutdown.
        RunStatus::KilledBySignal
        | RunStatus::RuntimeError
        | RunStatus::Cancelled
        | RunStatus::WaitingForInput => Verdict::RuntimeError,
    };
    outcome_result(index, verdict, run, first_difference)
}

fn outcome_result(
    index: usize,
    verdict: Verdict,
    run: &ProcessOutcome,
    first_difference: Option<Difference>,
) -> CaseResult {
    CaseResult {
        index,
        verdict,
        time_ms: run.wall_time.as_millis() as u64,
        cpu_ms: run.cpu_time.as_millis() as u64,
        memory_kb: run.peak_memory_kib,
        exit_code: run.exit_code,
        signal: run.signal.map(crate::api::types::signal_name),
        stdout: shown(&run.stdout),
        stderr: shown(&run.stderr),
        first_difference,
    }
}

fn skipped(index: usize) -> CaseResult {
    CaseResult {
        index,
        verdict: Verdict::Skipped,
        time_ms: 0,
        cpu_ms: 0,
        memory_kb: 0,
        exit_code: None,
        signal: None,
        stdout: String::new(),
        stderr: String::new(),
        first_difference: None,
    }
}

/// Compiles once and runs every case. The whole judge fits in the server's run
/// limit and the request's deadline: cases that cannot start in time are skipped.
pub async fn judge(
    runner: &Arc<Runner>,
    language: &'static Language,
    code: String,
    cases: Vec<TestCase>,
    comparison: Comparison,
    deadline: Option<Instant>,
) -> Result<JudgeReport, RunError> {
    let started = Instant::now();
    let config = runner.config();
    let total_budget = started + config.run_limits.wall_time;
    let deadline = deadline.map_or(total_budget, |d| d.min(total_budget));
    let request_for = |case: &TestCase| {
        let mut limits: Limits = config.run_limits.clone();
        if let Some(limit) = case.time_limit {
            limits.wall_time = limits.wall_time.min(limit);
        }
        let mut request = RunRequest::new(
            language,
            code.clone(),
            case.stdin.clone().into_bytes(),
            InputMode::Batch,
        )
        .with_deadline(Some(deadline));
        request.run_limits = Some(limits);
        request
    };
    // The first case compiles (or finds the cache); the others reuse the build.
    let Some(first_case) = cases.first() else {
        return Ok(JudgeReport {
            compile: None,
            cases: Vec::new(),
            elapsed: started.elapsed(),
        });
    };
    let first = runner.execute_detached(request_for(first_case)).await?;
    let compile = first.compile.clone();
    let mut results = vec![case_result(0, first_case, &first, comparison)];
    if first.run.is_none() {
        results.extend((1..cases.len()).map(|index| CaseResult {
            verdict: Verdict::CompileError,
            ..skipped(index)
        }));
        return Ok(JudgeReport {
            compile,
            cases: results,
            elapsed: started.elapsed(),
        });
    }
    // The rest in parallel, never more at once than the server runs.
    let parallel = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_runs));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, case) in cases.iter().enumerate().skip(1) {
        let request = request_for(case);
        let runner = runner.clone();
        let parallel = parallel.clone();
        let case = case.clone();
        tasks.spawn(async move {
            let _slot = parallel.acquire_owned().await.expect("semaphore open");
            if Instant::now() >= deadline {
                return Ok(skipped(index));
            }
            let execution = runner.execute(request).await?;
            Ok::<_, RunError>(case_result(index, &case, &execution, comparison))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let result = joined.map_err(|e| RunError::Internal(std::io::Error::other(e)))??;
        results.push(result);
    }
    results.sort_by_key(|r| r.index);
    Ok(JudgeReport {
        compile,
        cases: results,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_comparison_ignores_trailing_whitespace_and_blank_lines() {
        assert_eq!(
            compare("1 2\n3\n", "1 2   \n3\n\n\n", Comparison::Lenient),
            None
        );
        assert_eq!(compare("a\r\nb", "a\nb\n", Comparison::Lenient), None);
        let diff = compare("1\n2\n3\n", "1\n5\n3\n", Comparison::Lenient).unwrap();
        assert_eq!(diff.line, 2);
        assert_eq!(diff.expected.as_deref(), Some("2"));
        assert_eq!(diff.got.as_deref(), Some("5"));
        // Leading whitespace still matters.
        assert!(compare("x", " x", Comparison::Lenient).is_some());
    }

    #[test]
    fn missing_and_extra_lines_are_differences() {
        let missing = compare("1\n2\n", "1\n", Comparison::Lenient).unwrap();
        assert_eq!((missing.line, missing.got), (2, None));
        let extra = compare("1\n", "1\n2\n", Comparison::Lenient).unwrap();
        assert_eq!((extra.line, extra.expected), (2, None));
    }

    #[test]
    fn exact_comparison_sees_every_byte() {
        assert_eq!(compare("1\n", "1\n", Comparison::Exact), None);
        assert!(compare("1\n", "1 \n", Comparison::Exact).is_some());
        assert!(compare("1\n", "1", Comparison::Exact).is_some());
    }

    #[test]
    fn float_comparison_allows_the_tolerance() {
        let float = Comparison::Float { tolerance: 1e-6 };
        assert_eq!(compare("0.3333333\n", "0.33333331\n", float), None);
        assert_eq!(
            compare("1000000 x\n", "1000000.5 x\n", float),
            None,
            "relative"
        );
        assert!(compare("0.5\n", "0.6\n", float).is_some());
        assert!(compare("0.5 a\n", "0.5 b\n", float).is_some());
        assert!(
            compare("nan\n", "nan\n", float).is_none(),
            "identical tokens match"
        );
    }
}
