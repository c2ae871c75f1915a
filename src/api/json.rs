//! A JSON body extractor whose every rejection uses the app's error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Like `axum::Json`, but every rejection is the app's: a body that is not sent
/// as JSON is 415 (this also means a cross-origin page cannot post to the API
/// without a CORS preflight), malformed JSON, wrong types and missing fields are
/// 400 with serde's message, and an oversized body is 413.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        let is_json = media_type.eq_ignore_ascii_case("application/json")
            || media_type.to_ascii_lowercase().ends_with("+json");
        if !is_json {
            return Err(AppError::UnsupportedMediaType(format!(
                "send the body as JSON with Content-Type: application/json (got {:?})",
                content_type
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge("request body is too large".into())
            } else {
                AppError::BadRequest(format!("could not read request body: {rejection}"))
            }
        })?;
        if bytes.is_empty() {
            return Err(AppError::BadRequest(
                "request body is empty; expected a JSON object".into(),
            ));
        }
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|err| AppError::BadRequest(format!("invalid JSON body: {err}")))
    }
}
