//! The HTTP API: one axum `Router` shared by the local server and the Lambda handler.

pub mod deadline;
pub mod json;
pub mod page;
pub mod piston;
pub mod routes;
pub mod types;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::config::Config;
use crate::runner::Runner;
use crate::sessions::SessionService;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub runner: Arc<Runner>,
    pub sessions: Arc<SessionService>,
}

/// Every route (method, path) the router serves. The events/ fixtures and their
/// test check against this list, so a new route without an event fails a test.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/assets/{file}"),
    ("GET", "/api/health"),
    ("GET", "/api/runtimes"),
    ("POST", "/api/execute/once"),
    ("POST", "/api/execute/start"),
    ("POST", "/api/execute/input"),
    ("GET", "/api/execute/output/{session_id}"),
    ("POST", "/api/execute/kill"),
    ("POST", "/api/execute/judge"),
    ("GET", "/api/v2/runtimes"),
    ("POST", "/api/v2/execute"),
];

/// The application router.
pub fn app(state: AppState) -> Router {
    // Room for the largest code and stdin plus JSON escaping overhead.
    let body_limit = (state.config.max_code_bytes + state.config.max_stdin_bytes) * 2 + 64 * 1024;
    let cors = cors_layer(&state.config.cors_allow_origin);
    let judge_body_limit = body_limit + 2 * crate::judge::MAX_TOTAL_CASE_BYTES;
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{file}", get(page::asset))
        .route("/api/health", get(routes::health))
        .route("/api/runtimes", get(routes::runtimes))
        .route("/api/execute/once", post(routes::execute_once))
        .route("/api/execute/start", post(routes::start_session))
        .route("/api/execute/input", post(routes::session_input))
        .route(
            "/api/execute/output/{session_id}",
            get(routes::session_output),
        )
        .route("/api/execute/kill", post(routes::kill_session))
        .route(
            "/api/execute/judge",
            // Test cases make bigger bodies than one program.
            post(routes::judge).layer(DefaultBodyLimit::max(judge_body_limit)),
        )
        .route("/api/v2/runtimes", get(piston::runtimes))
        .route("/api/v2/execute", post(piston::execute))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        // A client trickling its body holds a connection, not a run slot; cap it.
        .layer(RequestBodyTimeoutLayer::new(
            std::time::Duration::from_secs(15),
        ))
        .layer(axum::middleware::from_fn(deadline::attach_deadline))
        .layer(cors)
        .with_state(state)
}

fn cors_layer(allow_origin: &str) -> CorsLayer {
    let origins = if allow_origin.trim() == "*" {
        AllowOrigin::from(Any)
    } else {
        let list: Vec<HeaderValue> = allow_origin
            .split(',')
            .filter_map(|origin| HeaderValue::from_str(origin.trim()).ok())
            .collect();
        AllowOrigin::list(list)
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}
