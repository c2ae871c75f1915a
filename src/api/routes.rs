//! Handlers: parse, validate, call the runner, shape the response. No business
//! logic lives here.

use axum::extract::State;
use axum::http::{Method, Uri};
use axum::Json;
use serde_json::{json, Value};

use super::json::ApiJson;
use super::types::{ExecutionResponse, OnceRequest};
use super::AppState;
use crate::error::AppError;
use crate::runner::{RunError, RunRequest};

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

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let sandbox = state.runner.sandbox();
    Json(json!({
        "status": "ok",
        "service": "sr-runner",
        "version": env!("CARGO_PKG_VERSION"),
        "maxConcurrentRuns": state.config.max_concurrent_runs,
        "sandbox": {
            "mode": format!("{:?}", sandbox.mode()),
            "protections": sandbox.protections(),
        },
        "compileCache": {
            "entries": state.runner.cache().len(),
            "bytes": state.runner.cache().total_bytes(),
        },
        "precompiledHeader": state.runner.pch_dir().is_some(),
    }))
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
    ApiJson(request): ApiJson<OnceRequest>,
) -> Result<Json<ExecutionResponse>, AppError> {
    check_sizes(&state, &request.code, request.stdin.as_deref())?;
    let language = state.runner.resolve_language(&request.language).await?;
    let run = RunRequest {
        language,
        code: request.code,
        stdin: request.stdin.unwrap_or_default().into_bytes(),
        run_limits: None,
    };
    // Run on its own task: a client that disconnects must not abort the run
    // half-way (cleanup runs either way, but a finished run is cheaper to reason about).
    let runner = state.runner.clone();
    let execution = tokio::spawn(async move { runner.execute(run).await })
        .await
        .map_err(AppError::internal)??;
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

pub async fn not_found(uri: Uri) -> AppError {
    AppError::NotFound(format!("no route for {}", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> AppError {
    AppError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
