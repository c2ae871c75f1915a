//! A JSON body extractor whose every rejection uses the app's error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Like `axum::Json`, but: any content type is accepted (some clients omit it),
/// malformed JSON, wrong types and missing fields are 400 with serde's message,
/// and an oversized body is 413.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
