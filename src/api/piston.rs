//! Piston's v2 API (`/api/v2/runtimes`, `/api/v2/execute`), so tools that speak
//! Piston can use sr-runner as a drop-in replacement. Errors on these routes use
//! Piston's shape, `{"message": "..."}`.

use std::time::Duration;

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::deadline::RequestDeadline;
use super::json::ApiJson;
use super::types::signal_name;
use super::AppState;
use crate::config::Limits;
use crate::error::AppError;
use crate::runner::languages::{Language, LanguageId};
use crate::runner::process::ProcessOutcome;
use crate::runner::{InputMode, RunRequest, SourceFile};

/// Piston's name, aliases and runtime for each language.
fn piston_names(id: LanguageId) -> (&'static str, &'static [&'static str], Option<&'static str>) {
    match id {
        LanguageId::C => ("c", &["gcc"], Some("gcc")),
        LanguageId::Cpp => ("c++", &["cpp", "g++"], Some("gcc")),
        LanguageId::Python => ("python", &["py", "py3", "python3"], None),
        LanguageId::JavaScript => (
            "javascript",
            &["node-javascript", "node-js", "js"],
            Some("node"),
        ),
        LanguageId::Java => ("java", &[], None),
        LanguageId::Go => ("go", &["go", "golang"], None),
        LanguageId::TypeScript => ("typescript", &["ts", "node-ts", "tsc"], Some("node")),
        LanguageId::Rust => ("rust", &["rs"], None),
    }
}

/// An error in Piston's shape.
#[derive(Debug)]
pub struct PistonError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl PistonError {
    fn bad_request(message: impl Into<String>) -> Self {
        PistonError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<AppError> for PistonError {
    fn from(err: AppError) -> Self {
        let retry_after = match &err {
            AppError::Busy {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let status = err.status();
        let message = match &err {
            AppError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                "internal server error; the failure has been logged".to_string()
            }
            other => other.to_string(),
        };
        PistonError {
            status,
            message,
            retry_after,
        }
    }
}

impl IntoResponse for PistonError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "message": self.message }))).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The app's JSON extractor, rejecting in Piston's shape.
pub struct PistonJson<T>(pub T);

impl<S, T> FromRequest<S> for PistonJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = PistonError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(value) = ApiJson::<T>::from_request(req, state).await?;
        Ok(PistonJson(value))
    }
}

#[derive(Debug, Serialize)]
pub struct PistonRuntime {
    pub language: &'static str,
    pub version: String,
    pub aliases: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<&'static str>,
}

pub async fn runtimes(State(state): State<AppState>) -> Json<Vec<PistonRuntime>> {
    let toolchains = state.runner.toolchains().await;
    let list = toolchains
        .all()
        .into_iter()
        .filter(|t| t.available)
        .filter_map(|t| {
            let language = Language::lookup(t.language)?;
            let (name, aliases, runtime) = piston_names(language.id);
            Some(PistonRuntime {
                language: name,
                version: t.version.clone().unwrap_or_default(),
                aliases: aliases.to_vec(),
                runtime,
            })
        })
        .collect();
    Json(list)
}

fn star() -> String {
    "*".into()
}

#[derive(Debug, Deserialize)]
pub struct PistonFile {
    #[serde(default)]
    pub name: Option<String>,
    pub content: String,
    #[serde(default)]
    pub encoding: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PistonExecuteRequest {
    pub language: String,
    #[serde(default = "star")]
    pub version: String,
    pub files: Vec<PistonFile>,
    #[serde(default)]
    pub stdin: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Milliseconds; -1 means the server's limit.
    pub compile_timeout: Option<i64>,
    pub run_timeout: Option<i64>,
    /// Bytes; -1 means the server's limit.
    pub compile_memory_limit: Option<i64>,
    pub run_memory_limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct PistonStage {
    pub stdout: String,
    pub stderr: String,
    pub output: String,
    pub code: Option<i32>,
    pub signal: Option<String>,
    /// `RE` runtime error, `SG` signal, `TO` timeout, `OL`/`EL` output limit, `XX` internal.
    pub status: Option<&'static str>,
    pub message: Option<String>,
    /// Milliseconds.
    pub cpu_time: u64,
    pub wall_time: u64,
    /// Bytes.
    pub memory: u64,
}

#[derive(Debug, Serialize)]
pub struct PistonExecuteResponse {
    pub language: &'static str,
    pub version: String,
    pub run: PistonStage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile: Option<PistonStage>,
}

fn stage(outcome: &ProcessOutcome, output_cap: usize) -> PistonStage {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let (status, message) = if outcome.timed_out {
        (Some("TO"), Some("Timed out".to_string()))
    } else if outcome.output_truncated {
        if outcome.stdout.len() >= output_cap {
            (Some("OL"), Some("stdout length exceeded".to_string()))
        } else {
            (Some("EL"), Some("stderr length exceeded".to_string()))
        }
    } else if let Some(signal) = outcome.signal {
        (
            Some("SG"),
            Some(format!("Killed by signal {}", signal_name(signal))),
        )
    } else if outcome.exit_code != Some(0) {
        (
            Some("RE"),
            Some(format!(
                "Exited with code {}",
                outcome.exit_code.unwrap_or(-1)
            )),
        )
    } else {
        (None, None)
    };
    PistonStage {
        stdout: text(&outcome.stdout),
        stderr: text(&outcome.stderr),
        output: text(&outcome.combined),
        code: outcome.exit_code,
        signal: outcome.signal.map(signal_name),
        status,
        message,
        cpu_time: outcome.cpu_time.as_millis() as u64,
        wall_time: outcome.wall_time.as_millis() as u64,
        memory: outcome.peak_memory_kib * 1024,
    }
}

/// Whether `version` satisfies a Piston (node-semver) selector: `*`, an exact
/// version, an x-range (`3`, `3.11`, `3.x`), or a range with operators.
pub fn version_matches(selector: &str, version: &str) -> bool {
    let selector = selector.trim();
    if selector.is_empty() || selector == "*" || selector.eq_ignore_ascii_case("x") {
        return true;
    }
    let Ok(version) = semver::Version::parse(version) else {
        return selector == version;
    };
    let parts: Vec<&str> = selector.split('.').collect();
    let plain = parts.len() <= 3
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_digit()) || *p == "x" || *p == "*");
    if plain {
        // node-semver: "3.11.2" is exact, "3.11" and "3.11.x" mean 3.11.*.
        let wanted = [version.major, version.minor, version.patch];
        return parts
            .iter()
            .zip(wanted)
            .all(|(part, have)| part.parse::<u64>().map_or(true, |n| n == have));
    }
    semver::VersionReq::parse(selector).is_ok_and(|req| req.matches(&version))
}

/// A file name that stays inside the run directory: relative, no `..`, no
/// empty or `.` components, no NUL, of a sane length.
pub fn validate_file_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid file name {name:?}: {why}"));
    if name.is_empty() || name.len() > 200 {
        return bad("must be 1 to 200 bytes");
    }
    if name.starts_with('/') || name.contains('\0') || name.contains('\\') {
        return bad("must be a relative path");
    }
    if name.starts_with('-') || name.starts_with('@') {
        // gcc and javac read `-x` as an option and `@file` as a file of options.
        return bad("must not start with '-' or '@' (compilers would read it as options)");
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return bad("no empty, '.' or '..' components");
    }
    if name.starts_with(".sr-runner") || name == "build" || name.starts_with("build/") {
        return bad("reserved by the server");
    }
    Ok(())
}

fn decode(file: &PistonFile) -> Result<Vec<u8>, String> {
    match file.encoding.as_deref().unwrap_or("utf8") {
        "utf8" | "utf-8" => Ok(file.content.clone().into_bytes()),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(file.content.trim())
            .map_err(|e| format!("file content is not valid base64: {e}")),
        "hex" => hex::decode(file.content.trim())
            .map_err(|e| format!("file content is not valid hex: {e}")),
        other => Err(format!(
            "unknown encoding {other:?}; use utf8, base64 or hex"
        )),
    }
}

/// A request's limit, which may only lower the server's.
fn lowered(requested: Option<i64>, server: u64, name: &str, unit: &str) -> Result<u64, String> {
    match requested {
        None | Some(-1) => Ok(server),
        Some(value) if value <= 0 => Err(format!(
            "{name} must be positive (or -1 for the server's limit)"
        )),
        Some(value) if value as u64 > server => Err(format!(
            "{name} cannot exceed the server's limit of {server} {unit}"
        )),
        Some(value) => Ok(value as u64),
    }
}

fn limits_for(
    base: &Limits,
    timeout_ms: Option<i64>,
    memory: Option<i64>,
    stage: &str,
) -> Result<Limits, String> {
    let wall_ms = lowered(
        timeout_ms,
        base.wall_time.as_millis() as u64,
        &format!("{stage}_timeout"),
        "ms",
    )?;
    let memory_bytes = lowered(
        memory,
        base.memory_bytes,
        &format!("{stage}_memory_limit"),
        "bytes",
    )?;
    Ok(Limits {
        wall_time: Duration::from_millis(wall_ms),
        memory_bytes,
        ..base.clone()
    })
}

pub async fn execute(
    State(state): State<AppState>,
    deadline: Option<Extension<RequestDeadline>>,
    PistonJson(request): PistonJson<PistonExecuteRequest>,
) -> Result<Json<PistonExecuteResponse>, PistonError> {
    let config = &state.config;
    let Some(language) = Language::lookup(&request.language) else {
        return Err(PistonError::bad_request(format!(
            "{}-{} runtime is unknown",
            request.language, request.version
        )));
    };
    let toolchain = state.runner.toolchains().await.get(language.id).clone();
    let version = toolchain.version.clone().unwrap_or_default();
    if !toolchain.available || !version_matches(&request.version, &version) {
        return Err(PistonError::bad_request(format!(
            "{}-{} runtime is unknown",
            request.language, request.version
        )));
    }
    if request.files.is_empty() {
        return Err(PistonError::bad_request(
            "files must contain at least one file",
        ));
    }
    let mut decoded = Vec::with_capacity(request.files.len());
    let mut total = 0usize;
    for (index, file) in request.files.iter().enumerate() {
        let content = decode(file).map_err(PistonError::bad_request)?;
        total += content.len();
        let name = match &file.name {
            Some(name) => {
                validate_file_name(name).map_err(PistonError::bad_request)?;
                Some(name.clone())
            }
            None if index == 0 => None,
            None => Some(format!("file{index}.code")),
        };
        decoded.push((name, content));
    }
    if total > config.max_code_bytes {
        return Err(AppError::PayloadTooLarge(format!(
            "files total {total} bytes; the limit is {} bytes",
            config.max_code_bytes
        ))
        .into());
    }
    if request.stdin.len() > config.max_stdin_bytes {
        return Err(AppError::PayloadTooLarge(format!(
            "stdin is {} bytes; the limit is {} bytes",
            request.stdin.len(),
            config.max_stdin_bytes
        ))
        .into());
    }
    let mut names: Vec<&str> = decoded.iter().filter_map(|(n, _)| n.as_deref()).collect();
    names.sort_unstable();
    if names.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(PistonError::bad_request("file names must be unique"));
    }
    let run_limits = limits_for(
        &config.run_limits,
        request.run_timeout,
        request.run_memory_limit,
        "run",
    )
    .map_err(PistonError::bad_request)?;
    let compile_limits = limits_for(
        &config.compile_limits,
        request.compile_timeout,
        request.compile_memory_limit,
        "compile",
    )
    .map_err(PistonError::bad_request)?;

    let mut files = decoded.into_iter();
    let (entry_name, entry) = files.next().expect("checked non-empty");
    let code = String::from_utf8(entry)
        .map_err(|_| PistonError::bad_request("the first file (the entry point) must be text"))?;
    let mut run = RunRequest::new(language, code, request.stdin.into_bytes(), InputMode::Batch)
        .with_deadline(deadline.map(|Extension(RequestDeadline(at))| at));
    run.entry_name = entry_name;
    run.files = files
        .map(|(name, content)| SourceFile {
            name: name.expect("named above"),
            content,
        })
        .collect();
    run.args = request.args;
    run.run_limits = Some(run_limits);
    run.compile_limits = Some(compile_limits);
    let execution = state
        .runner
        .execute_detached(run)
        .await
        .map_err(AppError::from)?;

    let cap = config.run_limits.output_bytes;
    let compile = execution
        .compile
        .as_ref()
        .map(|report| match &report.outcome {
            Some(outcome) => stage(outcome, cap),
            // A cache hit: the compiler did not run this time, and succeeded before.
            None => stage(
                &ProcessOutcome {
                    exit_code: Some(0),
                    ..ProcessOutcome::default()
                },
                cap,
            ),
        });
    let run = match &execution.run {
        Some(outcome) => stage(outcome, cap),
        // Compilation failed: Piston reports an empty run stage.
        None => PistonStage {
            stdout: String::new(),
            stderr: String::new(),
            output: String::new(),
            code: None,
            signal: None,
            status: None,
            message: None,
            cpu_time: 0,
            wall_time: 0,
            memory: 0,
        },
    };
    let (name, _, _) = piston_names(language.id);
    Ok(Json(PistonExecuteResponse {
        language: name,
        version,
        run,
        compile,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_like_node_semver() {
        assert!(version_matches("*", "3.11.2"));
        assert!(version_matches("3.11.2", "3.11.2"));
        assert!(!version_matches("3.11.1", "3.11.2"));
        assert!(version_matches("3.11", "3.11.2"));
        assert!(version_matches("3.x", "3.11.2"));
        assert!(version_matches("3", "3.11.2"));
        assert!(!version_matches("3.10", "3.11.2"));
        assert!(!version_matches("2", "3.11.2"));
        assert!(version_matches(">=3.8", "3.11.2"));
        assert!(!version_matches("<3.8", "3.11.2"));
        assert!(version_matches("^3.9.0", "3.11.2"));
        assert!(!version_matches("nonsense", "3.11.2"));
    }

    #[test]
    fn file_names_cannot_escape_the_run_directory() {
        for ok in ["main.py", "lib/util.py", "Main.java", "data.txt"] {
            assert!(validate_file_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-o",
            "@opts",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./x",
            "a\\b",
            "nul\0",
            "build/main",
            ".sr-runner-interactive.js",
        ] {
            assert!(validate_file_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn request_limits_may_only_lower_the_servers() {
        assert_eq!(lowered(None, 1000, "x", "ms"), Ok(1000));
        assert_eq!(lowered(Some(-1), 1000, "x", "ms"), Ok(1000));
        assert_eq!(lowered(Some(500), 1000, "x", "ms"), Ok(500));
        assert!(lowered(Some(2000), 1000, "x", "ms").is_err());
        assert!(lowered(Some(0), 1000, "x", "ms").is_err());
    }
}
