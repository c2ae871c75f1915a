//! Handlers: parse, validate, call the runner, shape the response. No business
//! logic lives here.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use serde_json::{json, Value};

use super::deadline::RequestDeadline;
use super::json::ApiJson;
use super::types::{
    CompileBody, ExecutionResponse, InputRequest, JudgeRequest, JudgeResponse, KillRequest,
    OnceRequest, StartRequest, TranscriptResponse, TurnResponse,
};
use super::AppState;
use crate::error::AppError;
use crate::judge::{self, Comparison, TestCase};
use crate::runner::{InputMode, RunError, RunRequest};
use crate::sessions::model::SessionId;
use crate::sessions::SessionError;

/// How long a client should wait before retrying a full session table.
const SESSIONS_FULL_RETRY_SECS: u64 = 10;

impl From<SessionError> for AppError {
    fn from(err: SessionError) -> Self {
        let message = err.to_string();
        match err {
            SessionError::NotFound => AppError::NotFound(message),
            SessionError::Gone(_) => AppError::Gone(message),
            SessionError::Conflict => AppError::Conflict(message),
            SessionError::Full { .. } => AppError::Busy {
                message,
                retry_after_secs: SESSIONS_FULL_RETRY_SECS,
            },
            SessionError::TooLarge(_) => AppError::PayloadTooLarge(message),
            SessionError::StoreUnavailable(detail) => {
                tracing::error!(%detail, "session store unavailable");
                AppError::Unavailable(message)
            }
            SessionError::Run(run) => run.into(),
        }
    }
}

fn parse_session_id(raw: &str) -> Result<SessionId, AppError> {
    SessionId::parse(raw).map_err(AppError::BadRequest)
}

impl From<RunError> for AppError {
    fn from(err: RunError) -> Self {
        match err {
            RunError::LanguageUnavailable(message) => AppError::BadRequest(message),
            RunError::Busy { retry_after_secs } => AppError::Busy {
                message: err.to_string(),
                retry_after_secs,
            },
            RunError::ShuttingDown => AppError::ShuttingDown(err.to_string()),
            RunError::Internal(io) => AppError::internal(io),
        }
    }
}

pub async fn health(State(state): State<AppState>) -> Response {
    let sandbox = state.runner.sandbox();
    let active = state.sessions.active_sessions().await;
    let mut body = json!({
        "status": "ok",
        "service": "sr-runner",
        "version": env!("CARGO_PKG_VERSION"),
        "activeSessions": active.as_ref().ok(),
        "maxSessions": state.sessions.max_sessions(),
        "sessionStore": if state.config.table_name.is_some() { "dynamodb" } else { "memory" },
        "maxConcurrentRuns": state.config.max_concurrent_runs,
        "sandbox": {
            "mode": format!("{:?}", sandbox.mode()),
            "protections": sandbox.protections(),
            "unavailable": sandbox.unavailable(),
        },
        "compileCache": {
            "entries": state.runner.cache().len(),
            "bytes": state.runner.cache().total_bytes(),
        },
        "precompiledHeader": state.runner.pch_dir().is_some(),
    });
    match active {
        Ok(_) => Json(body).into_response(),
        Err(err) => {
            body["status"] = json!("degraded");
            body["error"] = json!(err.to_string());
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

pub async fn runtimes(State(state): State<AppState>) -> Json<Value> {
    let toolchains = state.runner.toolchains().await;
    Json(json!({ "runtimes": toolchains.all() }))
}

/// Checks sizes before anything else, so an oversized request costs nothing more.
pub fn check_sizes(state: &AppState, code: &str, stdin: Option<&str>) -> Result<(), AppError> {
    let config = &state.config;
    if code.len() > config.max_code_bytes {
        return Err(AppError::PayloadTooLarge(format!(
            "code is {} bytes; the limit is {} bytes",
            code.len(),
            config.max_code_bytes
        )));
    }
    let stdin_len = stdin.map_or(0, str::len);
    if stdin_len > config.max_stdin_bytes {
        return Err(AppError::PayloadTooLarge(format!(
            "stdin is {stdin_len} bytes; the limit is {} bytes",
            config.max_stdin_bytes
        )));
    }
    if code.trim().is_empty() {
        return Err(AppError::BadRequest("code is empty".into()));
    }
    Ok(())
}

pub async fn execute_once(
    State(state): State<AppState>,
    deadline: Option<Extension<RequestDeadline>>,
    ApiJson(request): ApiJson<OnceRequest>,
) -> Result<Json<ExecutionResponse>, AppError> {
    check_sizes(&state, &request.code, request.stdin.as_deref())?;
    let language = state.runner.resolve_language(&request.language).await?;
    let run = RunRequest::new(
        language,
        request.code,
        request.stdin.unwrap_or_default().into_bytes(),
        InputMode::Batch,
    )
    .with_deadline(deadline.map(|Extension(RequestDeadline(at))| at));
    let execution = state.runner.execute_detached(run).await?;
    tracing::info!(
        language = language.key,
        exit_code = ?execution.run.as_ref().and_then(|r| r.exit_code),
        cached = ?execution.compile.as_ref().map(|c| c.cached),
        "executed"
    );
    Ok(Json(ExecutionResponse::from_execution(
        &execution,
        &state.config.run_limits,
    )))
}

pub async fn start_session(
    State(state): State<AppState>,
    deadline: Option<Extension<RequestDeadline>>,
    ApiJson(request): ApiJson<StartRequest>,
) -> Result<Json<TurnResponse>, AppError> {
    check_sizes(&state, &request.code, None)?;
    let deadline = deadline.map(|Extension(RequestDeadline(at))| at);
    let turn = state
        .sessions
        .start(&request.language, request.code, deadline)
        .await?;
    tracing::info!(session = %turn.session.id, state = turn.session.state.as_str(), "session started");
    Ok(Json(TurnResponse::from_turn(&turn)))
}

pub async fn session_input(
    State(state): State<AppState>,
    deadline: Option<Extension<RequestDeadline>>,
    ApiJson(request): ApiJson<InputRequest>,
) -> Result<Json<TurnResponse>, AppError> {
    let id = parse_session_id(&request.session_id)?;
    let deadline = deadline.map(|Extension(RequestDeadline(at))| at);
    let turn = state
        .sessions
        .input(&id, &request.input, request.eof, deadline)
        .await?;
    Ok(Json(TurnResponse::from_turn(&turn)))
}

pub async fn session_output(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Json<TranscriptResponse>, AppError> {
    let id = parse_session_id(&raw_id)?;
    let session = state.sessions.load(&id).await?;
    Ok(Json(TranscriptResponse::from(&session)))
}

pub async fn kill_session(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<KillRequest>,
) -> Result<Json<Value>, AppError> {
    let id = parse_session_id(&request.session_id)?;
    let session = state.sessions.kill(&id).await?;
    Ok(Json(
        json!({ "success": true, "sessionId": id.as_str(), "state": session.state.as_str() }),
    ))
}

pub async fn judge(
    State(state): State<AppState>,
    deadline: Option<Extension<RequestDeadline>>,
    ApiJson(request): ApiJson<JudgeRequest>,
) -> Result<Json<JudgeResponse>, AppError> {
    check_sizes(&state, &request.code, None)?;
    let cases = &request.test_cases;
    if cases.is_empty() || cases.len() > judge::MAX_TEST_CASES {
        return Err(AppError::BadRequest(format!(
            "testCases must hold 1 to {} cases; got {}",
            judge::MAX_TEST_CASES,
            cases.len()
        )));
    }
    let config = &state.config;
    let mut total = 0;
    for (index, case) in cases.iter().enumerate() {
        if case.stdin.len() > config.max_stdin_bytes {
            return Err(AppError::PayloadTooLarge(format!(
                "test case {index}: stdin is {} bytes; the limit is {} bytes",
                case.stdin.len(),
                config.max_stdin_bytes
            )));
        }
        total += case.stdin.len() + case.expected_output.len();
    }
    if total > judge::MAX_TOTAL_CASE_BYTES {
        return Err(AppError::PayloadTooLarge(format!(
            "test cases hold {total} bytes; the limit is {} bytes",
            judge::MAX_TOTAL_CASE_BYTES
        )));
    }
    let comparison = match request.comparison.as_deref().unwrap_or("default") {
        "default" | "lenient" => Comparison::Lenient,
        "exact" => Comparison::Exact,
        "float" => {
            let tolerance = request.float_tolerance.unwrap_or(1e-6);
            if !(tolerance.is_finite() && tolerance >= 0.0) {
                return Err(AppError::BadRequest(
                    "floatTolerance must be a non-negative number".into(),
                ));
            }
            Comparison::Float { tolerance }
        }
        other => {
            return Err(AppError::BadRequest(format!(
                "unknown comparison {other:?}; use default, exact or float"
            )))
        }
    };
    let language = state.runner.resolve_language(&request.language).await?;
    let cases: Vec<TestCase> = request
        .test_cases
        .into_iter()
        .map(|case| TestCase {
            stdin: case.stdin,
            expected_output: case.expected_output,
            time_limit: case.time_limit_ms.map(std::time::Duration::from_millis),
        })
        .collect();
    let deadline = deadline.map(|Extension(RequestDeadline(at))| at);
    let report = judge::judge(
        &state.runner,
        language,
        request.code,
        cases,
        comparison,
        deadline,
    )
    .await?;
    Ok(Json(JudgeResponse {
        verdict: report.verdict(),
        passed: report.passed(),
        total: report.cases.len(),
        language: language.display_name,
        compile: report.compile.as_ref().map(CompileBody::from),
        total_ms: report.elapsed.as_millis() as u64,
        cases: report.cases,
    }))
}

pub async fn not_found(uri: Uri) -> AppError {
    AppError::NotFound(format!("no route for {}", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> AppError {
    AppError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
