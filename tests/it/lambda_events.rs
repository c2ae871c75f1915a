//! The API Gateway (HTTP API, payload v2) events in `events/`, parsed the way
//! the Lambda runtime parses them and sent through the real router.

use std::path::Path;

use axum::body::Body;
use serde_json::Value;
use tower::ServiceExt;

use crate::common::spawn_app;

/// Placeholder session id in the events; the test swaps in a real one.
const PLACEHOLDER: &str = "00000000-0000-4000-8000-000000000000";

fn event_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Sends one event through the router: (status, headers, JSON body).
async fn invoke(app: &sr_runner::AppState, text: &str) -> (u16, axum::http::HeaderMap, Value) {
    let request = lambda_http::request::from_str(text).expect("a valid API Gateway event");
    let request = request.map(|body| Body::from(body.to_vec()));
    let response = sr_runner::app(app.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

/// Every event file, with what its invocation must answer.
const EXPECTED: &[(&str, u16)] = &[
    ("health.json", 200),
    ("runtimes.json", 200),
    ("once-c.json", 200),
    ("once-cpp.json", 200),
    ("once-python.json", 200),
    ("once-javascript.json", 200),
    ("start.json", 200),
    ("input.json", 200),
    ("output.json", 200),
    ("kill.json", 200),
    ("preflight.json", 200),
    ("malformed-json.json", 400),
    ("unknown-session.json", 404),
    ("piston-runtimes.json", 200),
    ("piston-execute.json", 200),
    ("judge.json", 200),
    ("page.json", 200),
    ("page-asset.json", 200),
];

#[tokio::test]
async fn every_event_in_events_gets_its_expected_answer() {
    let app = spawn_app().await;
    let state = &app.app_state;
    let mut session = String::new();
    for (file, expected) in EXPECTED {
        let text = event_text(file).replace(PLACEHOLDER, &session);
        let (status, headers, body) = invoke(state, &text).await;
        assert_eq!(status, *expected, "{file}: {body}");
        assert!(
            headers.contains_key("access-control-allow-origin"),
            "{file}: CORS headers"
        );
        match *file {
            "health.json" => assert_eq!(body["status"], "ok"),
            "once-c.json" => assert_eq!(body["stdout"], "42\n", "{body}"),
            "once-cpp.json" => assert_eq!(body["stdout"], "42\n", "{body}"),
            "once-python.json" => assert_eq!(body["stdout"], "Hello, Lambda!\n", "{body}"),
            "once-javascript.json" => assert_eq!(body["stdout"], "6\n", "{body}"),
            "start.json" => {
                assert_eq!(body["output"], "What is your name? ", "{body}");
                assert_eq!(body["waitingForInput"], true);
                session = body["sessionId"].as_str().unwrap().to_string();
            }
            "input.json" => assert_eq!(body["output"], "Hello, Ada!\n", "{body}"),
            "output.json" => assert_eq!(body["output"], "What is your name? Hello, Ada!\n"),
            "kill.json" => assert_eq!(body["success"], true),
            "malformed-json.json" | "unknown-session.json" => assert!(body["error"].is_string()),
            "page.json" => {
                assert!(headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"))
            }
            "page-asset.json" => {
                assert!(headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/javascript"))
            }
            "judge.json" => {
                assert_eq!(body["passed"], 2, "{body}");
                assert_eq!(body["cases"][2]["verdict"], "wrong_answer");
            }
            "piston-runtimes.json" => assert!(body.as_array().is_some_and(|r| !r.is_empty())),
            "piston-execute.json" => {
                assert_eq!(
                    body["run"]["stdout"], "args: 1 2 3\nstdin: from piston\n",
                    "{body}"
                )
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn every_route_has_an_event_and_every_event_is_checked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut checked: Vec<String> = EXPECTED.iter().map(|(f, _)| f.to_string()).collect();
    checked.sort();
    assert_eq!(
        files, checked,
        "every event file has an expectation and vice versa"
    );

    for (method, route) in sr_runner::api::ROUTES {
        let prefix = route.split('{').next().unwrap();
        let covered = files.iter().any(|file| {
            let event: Value = serde_json::from_str(&event_text(file)).unwrap();
            let path = event["rawPath"].as_str().unwrap();
            let event_method = event["requestContext"]["http"]["method"].as_str().unwrap();
            event_method == *method
                && if route.contains('{') {
                    path.starts_with(prefix)
                } else {
                    path == *route
                }
        });
        assert!(covered, "route {method} {route} has no event in events/");
    }
}

/// An event as the Lambda runtime delivers it: with an invocation deadline.
fn with_deadline(text: &str, millis_left: u64) -> lambda_http::Request {
    use lambda_http::RequestExt;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut context = lambda_http::Context::default();
    context.deadline = now_ms + millis_left;
    lambda_http::request::from_str(text)
        .unwrap()
        .with_lambda_context(context)
}

async fn run_until_deadline(
    app: &sr_runner::AppState,
    event: &str,
    millis_left: u64,
) -> (std::time::Duration, Value) {
    let request = with_deadline(event, millis_left).map(|body| Body::from(body.to_vec()));
    let started = std::time::Instant::now();
    let response = sr_runner::app(app.clone()).oneshot(request).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (elapsed, serde_json::from_slice(&bytes).unwrap())
}

fn infinite_loop_event(function_url: bool) -> String {
    let mut event: Value = serde_json::from_str(&event_text("once-python.json")).unwrap();
    event["body"] = Value::String(
        serde_json::json!({ "language": "python", "code": "while True:\n    pass" }).to_string(),
    );
    if function_url {
        event["requestContext"]["domainName"] =
            Value::String("abcdefghij.lambda-url.eu-west-1.on.aws".into());
    }
    event.to_string()
}

#[tokio::test]
async fn a_run_stops_before_the_invocation_deadline_with_a_real_answer() {
    // The configured limit (30 s) is far beyond what the invocation has left (5 s):
    // the program is stopped in time to store and answer, with timedOut.
    let app = crate::common::spawn_app_with(&[("RUN_TIMEOUT_SECS", "30")]).await;
    let (elapsed, body) =
        run_until_deadline(&app.app_state, &infinite_loop_event(false), 5000).await;
    assert_eq!(body["timedOut"], true, "{body}");
    assert!(
        elapsed < std::time::Duration::from_millis(4500),
        "answered after {elapsed:?}"
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(2000),
        "used the time it had: {elapsed:?}"
    );
    // Behind a Function URL the same holds (no gateway cap, Lambda's own deadline).
    let (elapsed, body) =
        run_until_deadline(&app.app_state, &infinite_loop_event(true), 4000).await;
    assert_eq!(body["timedOut"], true, "{body}");
    assert!(
        elapsed < std::time::Duration::from_millis(3500),
        "answered after {elapsed:?}"
    );
    app.assert_clean().await;
}
