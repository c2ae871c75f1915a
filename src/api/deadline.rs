//! Deadline-aware budgets. Behind API Gateway the client gets a 504 after the
//! gateway's limit whatever the function does, and a Lambda stopped at its own
//! timeout loses the session write. Each request therefore carries the moment
//! by which its programs must be stopped, so the user always gets a real answer
//! (`timedOut: true`) instead of a gateway error.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;

/// When the request's programs must have stopped (absent on the local server).
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub Instant);

/// Kept free at the end of an invocation for the session write and the response.
pub const RESPONSE_MARGIN: Duration = Duration::from_millis(2500);
/// API Gateway HTTP API (payload v2) answers 504 after 30 s.
pub const HTTP_API_LIMIT: Duration = Duration::from_secs(30);
/// API Gateway REST API (payload v1) answers 504 after 29 s.
pub const REST_API_LIMIT: Duration = Duration::from_secs(29);

/// 2001-09-09 in epoch milliseconds.
const PLAUSIBLE_EPOCH_MS: u64 = 1_000_000_000_000;

/// Middleware: derives the deadline from the Lambda context and the front door.
pub async fn attach_deadline(mut request: Request, next: Next) -> Response {
    if let Some(deadline) = deadline_of(&request, SystemTime::now()) {
        request.extensions_mut().insert(RequestDeadline(deadline));
    }
    next.run(request).await
}

fn deadline_of<B>(request: &axum::http::Request<B>, now: SystemTime) -> Option<Instant> {
    let context = request.lambda_context_ref()?;
    // Lambda sends epoch milliseconds; some emulators (cargo-lambda) send a bare
    // timeout instead. A deadline before 2001 is not a deadline: ignore it.
    let lambda_left = (context.deadline > PLAUSIBLE_EPOCH_MS)
        .then(|| context.deadline().duration_since(now).unwrap_or_default());
    let gateway_left = gateway_time_left(request.request_context_ref(), now);
    let left = match (lambda_left, gateway_left) {
        (Some(lambda), Some(gateway)) => lambda.min(gateway),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return None,
    };
    tracing::debug!(?lambda_left, ?gateway_left, "request deadline");
    Some(Instant::now() + left.saturating_sub(RESPONSE_MARGIN))
}

/// Time left before the front door gives up, counted from when it received the
/// request (a cold start eats into it). `None`: no limit beyond Lambda's own
/// (Function URLs).
fn gateway_time_left(context: Option<&RequestContext>, now: SystemTime) -> Option<Duration> {
    let (received_ms, limit) = match context? {
        RequestContext::ApiGatewayV2(v2) => {
            let function_url = v2
                .domain_name
                .as_deref()
                .is_some_and(|d| d.contains(".lambda-url."));
            if function_url {
                return None;
            }
            (v2.time_epoch, HTTP_API_LIMIT)
        }
        RequestContext::ApiGatewayV1(v1) => (v1.request_time_epoch, REST_API_LIMIT),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    let received = UNIX_EPOCH + Duration::from_millis(received_ms.max(0) as u64);
    let elapsed = now.duration_since(received).unwrap_or_default();
    // A missing or implausible timestamp (0, or in the future) counts as "just now".
    let elapsed = if received_ms <= 0 || elapsed > limit {
        Duration::ZERO
    } else {
        elapsed
    };
    Some(limit - elapsed)
}
