//! HTTP behaviour: statuses, error bodies, CORS, admission control, shutdown.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{spawn_app, spawn_app_with};

fn assert_error_body(body: &Value) {
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field in {body}"));
    assert!(!message.is_empty());
}

#[tokio::test]
async fn health_reports_ok_and_the_sandbox() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    let protections = body["sandbox"]["protections"].as_array().unwrap();
    assert!(protections.iter().any(|p| p == "rlimits"), "{body}");
}

#[tokio::test]
async fn runtimes_lists_every_language_with_its_availability() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/runtimes").await;
    assert_eq!(status, 200);
    let runtimes = body["runtimes"].as_array().unwrap();
    let names: Vec<&str> = runtimes
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for expected in [
        "C",
        "C++",
        "Python",
        "JavaScript",
        "Java",
        "Go",
        "TypeScript",
        "Rust",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let python = runtimes.iter().find(|r| r["name"] == "Python").unwrap();
    assert_eq!(python["available"], true);
    assert!(python["version"].as_str().unwrap().starts_with('3'));
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_json_error() {
    let app = spawn_app().await;
    let response = app.post_raw("/api/execute/once", "{\"code\": ").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_error_body(&body);
}

#[tokio::test]
async fn a_loopback_server_refuses_requests_addressed_to_other_names() {
    // DNS rebinding: a page at evil.example resolves its name to 127.0.0.1.
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/health"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 421);
    let body: Value = response.json().await.unwrap();
    assert_error_body(&body);
    let response = app
        .client
        .get(app.url("/api/health"))
        .header("host", "localhost:3001")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_body_not_sent_as_json_is_415() {
    let app = spawn_app().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(app.url("/api/execute/once"))
            .body(r#"{"code": "print(1)", "language": "python"}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
        let body: Value = response.json().await.unwrap();
        assert_error_body(&body);
    }
    let response = app
        .client
        .post(app.url("/api/execute/once"))
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"code": "print(1)", "language": "python"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_400() {
    let app = spawn_app().await;
    for body in [
        json!({ "code": 42, "language": "python" }),
        json!({ "language": "python" }),
        json!({ "code": "print(1)" }),
        json!({ "code": "print(1)", "language": "python", "stdin": [1] }),
        json!([1, 2, 3]),
    ] {
        let (status, response) = app.post("/api/execute/once", &body).await;
        assert_eq!(status, 400, "{body} -> {response}");
        assert_error_body(&response);
    }
    let empty = app.post_raw("/api/execute/once", "").await;
    assert_eq!(empty.status(), 400);
}

#[tokio::test]
async fn an_unknown_language_is_a_400_naming_the_available_ones() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/execute/once",
            &json!({ "code": "x", "language": "cobol" }),
        )
        .await;
    assert_eq!(status, 400);
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("cobol") && message.contains("Python"),
        "{message}"
    );
}

#[tokio::test]
async fn a_language_whose_toolchain_is_missing_is_a_400_not_a_500() {
    // An empty sandbox PATH: every toolchain is "missing".
    let app = spawn_app_with(&[("SANDBOX_PATH", "/nonexistent")]).await;
    let (status, body) = app
        .post(
            "/api/execute/once",
            &json!({ "code": "print(1)", "language": "python" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not available"),
        "{body}"
    );
    let (_, runtimes) = app.get("/api/runtimes").await;
    assert!(runtimes["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["available"] == false));
}

#[tokio::test]
async fn oversized_code_and_stdin_are_413() {
    let app = spawn_app_with(&[("MAX_CODE_BYTES", "1000"), ("MAX_STDIN_BYTES", "2000")]).await;
    let big_code = "#".repeat(1001);
    let (status, body) = app
        .post(
            "/api/execute/once",
            &json!({ "code": big_code, "language": "python" }),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_error_body(&body);
    let (status, body) = app
        .post(
            "/api/execute/once",
            &json!({ "code": "print(1)", "language": "python", "stdin": "x".repeat(2001) }),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    // A body far beyond every limit is refused before it is parsed.
    let huge = format!(
        "{{\"code\": \"{}\", \"language\": \"python\"}}",
        "a".repeat(200_000)
    );
    let response = app.post_raw("/api/execute/once", huge).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_error_body(&body);
}

#[tokio::test]
async fn unknown_routes_are_json_404_and_wrong_methods_json_405() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/nope").await;
    assert_eq!(status, 404);
    assert_error_body(&body);
    let (status, body) = app.get("/api/execute/once").await;
    assert_eq!(status, 405);
    assert_error_body(&body);
}

#[tokio::test]
async fn cors_preflight_is_answered_and_responses_carry_cors_headers() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/execute/once"))
        .header("Origin", "https://sr-compiler.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");

    let response = app
        .client
        .get(app.url("/api/health"))
        .header("Origin", "https://sr-compiler.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    // Errors carry them too, or the browser hides the message from the page.
    let not_found = app
        .client
        .get(app.url("/api/missing"))
        .header("Origin", "https://sr-compiler.example")
        .send()
        .await
        .unwrap();
    assert_eq!(not_found.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_configured_origin_is_the_only_one_allowed() {
    let app = spawn_app_with(&[("CORS_ALLOW_ORIGIN", "https://ide.example")]).await;
    let allowed = app
        .client
        .get(app.url("/api/health"))
        .header("Origin", "https://ide.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://ide.example"
    );
    let other = app
        .client
        .get(app.url("/api/health"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_saturated_server_answers_429_with_retry_after() {
    let app = spawn_app_with(&[
        ("MAX_CONCURRENT_RUNS", "1"),
        ("QUEUE_CAPACITY", "1"),
        ("QUEUE_WAIT_SECS", "1"),
    ])
    .await;
    let sleeper =
        json!({ "code": "import time\ntime.sleep(3)\nprint('done')", "language": "python" });
    let first = {
        let client = app.client.clone();
        let url = app.url("/api/execute/once");
        let body = sleeper.clone();
        tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status() })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One waits in the queue (and gives up after QUEUE_WAIT_SECS)...
    let second = {
        let client = app.client.clone();
        let url = app.url("/api/execute/once");
        let body = sleeper.clone();
        tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...and the next finds the queue full.
    let response = app.post_raw("/api/execute/once", sleeper.to_string()).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("busy"), "{body}");

    let waited = second.await.unwrap();
    assert_eq!(waited.status(), 429, "a request waiting too long gets 429");
    assert!(waited.headers().contains_key("retry-after"));
    assert_eq!(first.await.unwrap(), 200);
    app.assert_clean().await;
}

#[tokio::test]
async fn a_burst_of_requests_is_queued_and_all_served() {
    let app = std::sync::Arc::new(spawn_app_with(&[("MAX_CONCURRENT_RUNS", "2")]).await);
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = app.run("python", &format!("print({i} * 2)"), "").await;
                assert_eq!(body["stdout"], format!("{}\n", i * 2));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    app.assert_clean().await;
}

#[tokio::test]
async fn shutdown_stops_running_programs_and_answers_their_requests() {
    let mut app = spawn_app_with(&[("RUN_TIMEOUT_SECS", "30")]).await;
    let request = {
        let client = app.client.clone();
        let url = app.url("/api/execute/once");
        tokio::spawn(async move {
            let body = json!({ "code": "import time\ntime.sleep(60)", "language": "python" });
            let response = client.post(url).json(&body).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let started = Instant::now();
    app.shutdown();
    let (status, body) = request.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_eq!(status, 200);
    assert_eq!(body["status"], "cancelled", "{body}");
    app.assert_clean().await;
}
