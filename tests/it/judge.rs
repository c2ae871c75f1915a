//! Judge mode: one compile, many test cases, a verdict per case.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{spawn_app, spawn_app_with, TestApp};

async fn judge(app: &TestApp, body: Value) -> (u16, Value) {
    app.post("/api/execute/judge", &body).await
}

fn verdicts(body: &Value) -> Vec<String> {
    body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["verdict"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn twenty_cases_of_a_cpp_program_compile_once_and_all_pass() {
    let app = spawn_app().await;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000;
    let code = format!("#include <bits/stdc++.h>\nusing namespace std;\n// {nonce}\nint main() {{ long long a, b; cin >> a >> b; cout << a + b << '\\n'; }}");
    let cases: Vec<Value> = (0..20)
        .map(|i| json!({ "stdin": format!("{i} {}\n", i * i), "expectedOutput": format!("{}\n", i + i * i) }))
        .collect();
    let (status, body) = judge(
        &app,
        json!({ "language": "cpp", "code": code, "testCases": cases }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"], "accepted", "{body}");
    assert_eq!(body["passed"], 20);
    assert_eq!(body["total"], 20);
    assert_eq!(
        body["compile"]["cached"], false,
        "compiled once, for the first case"
    );
    assert!(verdicts(&body).iter().all(|v| v == "accepted"));
    for case in body["cases"].as_array().unwrap() {
        assert!(
            case["timeMs"].is_u64() && case["memoryKb"].is_u64(),
            "{case}"
        );
    }
}

#[tokio::test]
async fn every_verdict_is_given_where_it_belongs() {
    let app = spawn_app_with(&[("MAX_OUTPUT_BYTES", "5000"), ("MEMORY_LIMIT_MB", "128")]).await;
    let code = r#"
s = input().strip()
if s == 'tle':
    while True:
        pass
elif s == 're':
    raise SystemExit(3)
elif s == 'sig':
    import os, signal
    os.kill(os.getpid(), signal.SIGSEGV)
elif s == 'wa':
    print('nope')
elif s == 'mle':
    hoard = [bytearray(10**7) for _ in range(100)]
elif s == 'ole':
    while True:
        print('x' * 100)
else:
    print(s[::-1])
"#;
    let case = |input: &str, expected: &str| json!({ "stdin": input, "expectedOutput": expected, "timeLimitMs": 1000 });
    let (status, body) = judge(
        &app,
        json!({ "language": "python", "code": code, "testCases": [
            case("abc", "cba"), case("tle", "x"), case("re", "x"), case("sig", "x"),
            case("wa", "yes"), case("mle", "x"), case("ole", "x")
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        verdicts(&body),
        [
            "accepted",
            "time_limit_exceeded",
            "runtime_error",
            "runtime_error",
            "wrong_answer",
            "memory_limit_exceeded",
            "output_limit_exceeded"
        ],
        "{body}"
    );
    assert_eq!(body["verdict"], "time_limit_exceeded", "the first failure");
    assert_eq!(body["passed"], 1);
    let cases = body["cases"].as_array().unwrap();
    assert_eq!(cases[2]["exitCode"], 3);
    assert_eq!(cases[3]["signal"], "SIGSEGV");
    assert!(
        cases[1]["timeMs"].as_u64().unwrap() < 3000,
        "the case limit applied: {}",
        cases[1]
    );
    let diff = &cases[4]["firstDifference"];
    assert_eq!(diff["line"], 1);
    assert_eq!(diff["expected"], "yes");
    assert_eq!(diff["got"], "nope");
}

#[tokio::test]
async fn comparison_modes_behave_like_judges() {
    let app = spawn_app().await;
    let code = "print('1.0000001   ')\nprint('two')\nprint()\nprint()";
    let expected = "1.0\ntwo\n";
    let run = |comparison: Value| {
        let app = &app;
        async move {
            let mut body = json!({ "language": "python", "code": code, "testCases": [{ "stdin": "", "expectedOutput": expected }] });
            if !comparison.is_null() {
                body.as_object_mut()
                    .unwrap()
                    .extend(comparison.as_object().unwrap().clone());
            }
            judge(app, body).await.1
        }
    };
    let default = run(Value::Null).await;
    assert_eq!(
        default["verdict"], "wrong_answer",
        "1.0000001 is not 1.0 as text: {default}"
    );
    let float = run(json!({ "comparison": "float", "floatTolerance": 1e-6 })).await;
    assert_eq!(float["verdict"], "accepted", "{float}");
    let exact = run(json!({ "comparison": "exact" })).await;
    assert_eq!(exact["verdict"], "wrong_answer", "{exact}");

    // Trailing spaces and blank lines are ignored by default, not by exact.
    let code = "print('a  ')\nprint('b')\nprint('')";
    let body =
        json!({ "language": "python", "code": code, "testCases": [{ "expectedOutput": "a\nb" }] });
    assert_eq!(judge(&app, body.clone()).await.1["verdict"], "accepted");
    let mut exact = body;
    exact["comparison"] = json!("exact");
    let (_, result) = judge(&app, exact).await;
    assert_eq!(result["verdict"], "wrong_answer");
    assert_eq!(result["cases"][0]["firstDifference"]["line"], 1, "{result}");
}

#[tokio::test]
async fn a_compile_error_fails_every_case_without_running_any() {
    let app = spawn_app().await;
    let (status, body) = judge(
        &app,
        json!({ "language": "c", "code": "int main(void) { return oops; }", "testCases": [
            { "stdin": "1", "expectedOutput": "1" }, { "stdin": "2", "expectedOutput": "2" }
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(verdicts(&body), ["compile_error", "compile_error"]);
    assert!(body["compile"]["output"].as_str().unwrap().contains("oops"));
}

#[tokio::test]
async fn the_whole_judge_fits_in_the_run_limit() {
    let app = spawn_app_with(&[("RUN_TIMEOUT_SECS", "2"), ("MAX_CONCURRENT_RUNS", "2")]).await;
    let cases: Vec<Value> = (0..12)
        .map(|_| json!({ "stdin": "", "expectedOutput": "done" }))
        .collect();
    let started = Instant::now();
    let (status, body) = judge(
        &app,
        json!({ "language": "python", "code": "import time\ntime.sleep(0.7)\nprint('done')", "testCases": cases }),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let verdicts = verdicts(&body);
    assert!(verdicts.iter().any(|v| v == "accepted"), "{verdicts:?}");
    assert!(
        verdicts
            .iter()
            .any(|v| v == "skipped" || v == "time_limit_exceeded"),
        "cases past the budget are not run to completion: {verdicts:?}"
    );
}

#[tokio::test]
async fn too_many_or_too_big_test_cases_are_refused_clearly() {
    let app = spawn_app().await;
    let many: Vec<Value> = (0..51).map(|_| json!({ "expectedOutput": "" })).collect();
    let (status, body) = judge(
        &app,
        json!({ "language": "python", "code": "print()", "testCases": many }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("50"));
    let (status, _) = judge(
        &app,
        json!({ "language": "python", "code": "print()", "testCases": [] }),
    )
    .await;
    assert_eq!(status, 400);
    let big: Vec<Value> = (0..10)
        .map(|_| json!({ "stdin": "x".repeat(1_000_000), "expectedOutput": "" }))
        .collect();
    let (status, body) = judge(
        &app,
        json!({ "language": "python", "code": "print()", "testCases": big }),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    let (status, _) = judge(
        &app,
        json!({ "language": "python", "code": "print()", "testCases": [{ "expectedOutput": "" }], "comparison": "fuzzy" }),
    )
    .await;
    assert_eq!(status, 400);
}
