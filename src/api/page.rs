//! The web playground: a single page and its assets, embedded in the binary so
//! the same router serves them locally and behind API Gateway, with no network
//! fetch at run time.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const INDEX_HTML: &str = include_str!("../../web/index.html");

/// (name, content type, body) of every asset under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
];

fn with_headers(content_type: &'static str, body: &'static str, cache: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // Everything the page needs comes from here; the API may live elsewhere
        // (the settings field), so connections may go to any https origin.
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src *; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    response
}

pub async fn index() -> Response {
    with_headers("text/html; charset=utf-8", INDEX_HTML, "no-cache")
}

pub async fn asset(Path(name): Path<String>) -> Result<Response, AppError> {
    ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .map(|(_, content_type, body)| with_headers(content_type, body, "no-cache"))
        .ok_or_else(|| AppError::NotFound(format!("no asset named {name:?}")))
}
