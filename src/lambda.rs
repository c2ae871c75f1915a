//! The AWS Lambda entry point: the same router, handed to `lambda_http::run`.
//!
//! Configuration and SDK clients are built once per execution environment (here,
//! before the first invocation), not per request. After every invocation the
//! environment is cleaned before the next one can see it: no process of the
//! function's uid survives but the server itself, and files programs left in
//! `/tmp` or `/dev/shm` (outside the server's cache and work directories) are
//! removed.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::config::Config;
use crate::runner::sandbox::Sandbox;
use crate::server::Application;

/// Whether this process was started by the Lambda runtime.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Serves invocations until the execution environment is shut down.
pub async fn run(config: Config) -> Result<(), lambda_http::Error> {
    let started = std::time::Instant::now();
    let application = Application::build(config).await?;
    // Finish warming up before the first invocation: the cleanup after each
    // invocation kills every other process of our uid, toolchain probes and a
    // background header build included. (The image ships the header prebuilt.)
    application.state.runner.warm_up().await;
    let sandbox = application.state.runner.sandbox().clone();
    let router = application.router().layer(middleware::from_fn_with_state(
        sandbox,
        clean_after_invocation,
    ));
    tracing::info!(
        init_ms = started.elapsed().as_millis() as u64,
        "sr-runner ready for Lambda invocations"
    );
    lambda_http::run(router).await
}

async fn clean_after_invocation(
    State(sandbox): State<Arc<Sandbox>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    sandbox.clean_between_invocations();
    response
}
