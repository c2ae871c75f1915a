//! Piston's v2 API: the documented example, multi-file programs, arguments,
//! encodings, every status, limits that may only be lowered, unsafe file names.

use serde_json::{json, Value};

use crate::common::{spawn_app, spawn_app_with, TestApp};

async fn execute(app: &TestApp, request: Value) -> (u16, Value) {
    app.post("/api/v2/execute", &request).await
}

async fn version_of(app: &TestApp, language: &str) -> String {
    let (_, runtimes) = app.get("/api/v2/runtimes").await;
    runtimes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["language"] == language)
        .unwrap_or_else(|| panic!("{language} in {runtimes}"))["version"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn runtimes_use_pistons_names_and_aliases() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/v2/runtimes").await;
    assert_eq!(status, 200);
    let runtimes = body.as_array().unwrap();
    let names: Vec<&str> = runtimes
        .iter()
        .map(|r| r["language"].as_str().unwrap())
        .collect();
    for name in [
        "c++",
        "c",
        "python",
        "javascript",
        "java",
        "go",
        "typescript",
        "rust",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let js = runtimes
        .iter()
        .find(|r| r["language"] == "javascript")
        .unwrap();
    assert_eq!(js["runtime"], "node");
    assert!(js["aliases"].as_array().unwrap().contains(&json!("js")));
    let cpp = runtimes.iter().find(|r| r["language"] == "c++").unwrap();
    assert!(cpp["aliases"].as_array().unwrap().contains(&json!("cpp")));
}

#[tokio::test]
async fn the_documented_example_answers_as_documented() {
    // The request of Piston's API documentation, with our Node version.
    let app = spawn_app().await;
    let version = version_of(&app, "javascript").await;
    let (status, body) = execute(
        &app,
        json!({
            "language": "js",
            "version": version,
            "files": [{ "name": "my_cool_code.js", "content": "console.log(process.argv)" }],
            "stdin": "",
            "args": ["1", "2", "3"],
            "compile_timeout": 10000,
            "run_timeout": 3000,
            "compile_memory_limit": -1,
            "run_memory_limit": -1
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["language"], "javascript");
    assert_eq!(body["version"], version);
    assert!(
        body.get("compile").is_none(),
        "no compile stage for JavaScript"
    );
    let run = &body["run"];
    let stdout = run["stdout"].as_str().unwrap();
    assert!(stdout.contains("my_cool_code.js'"), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("'1',\n  '2',\n  '3'\n]"),
        "{stdout}"
    );
    assert_eq!(run["stderr"], "");
    assert_eq!(run["output"], run["stdout"]);
    assert_eq!(run["code"], 0);
    assert_eq!(run["signal"], Value::Null);
}

#[tokio::test]
async fn a_compiled_language_reports_both_stages() {
    let app = spawn_app().await;
    let (status, body) = execute(
        &app,
        json!({ "language": "c", "version": "*", "files": [{ "content": "#include <stdio.h>\nint main(int argc, char **argv) { for (int i = 1; i < argc; i++) printf(\"%s;\", argv[i]); return 0; }" }], "args": ["a b", "c"] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["compile"]["code"], 0, "{body}");
    assert_eq!(body["run"]["stdout"], "a b;c;");

    let (status, body) = execute(
        &app,
        json!({ "language": "c", "version": "*", "files": [{ "name": "bad.c", "content": "int main(void) { return missing; }" }] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["compile"]["code"], 0, "{body}");
    assert!(
        body["compile"]["stderr"]
            .as_str()
            .unwrap()
            .contains("missing"),
        "{body}"
    );
    assert!(body["compile"]["output"]
        .as_str()
        .unwrap()
        .contains("missing"));
    assert_eq!(body["run"]["stdout"], "");
}

#[tokio::test]
async fn multi_file_programs_compile_and_import_their_other_files() {
    let app = spawn_app().await;
    let (_, body) = execute(
        &app,
        json!({ "language": "python", "files": [
            { "name": "main.py", "content": "from helpers.greet import hello\nprint(hello(open('data.txt').read().strip()))" },
            { "name": "helpers/greet.py", "content": "def hello(name):\n    return f'hello {name}'" },
            { "name": "helpers/__init__.py", "content": "" },
            { "name": "data.txt", "content": "files" }
        ]}),
    )
    .await;
    assert_eq!(body["run"]["stdout"], "hello files\n", "{body}");

    let (_, body) = execute(
        &app,
        json!({ "language": "c++", "files": [
            { "name": "main.cpp", "content": "#include <iostream>\n#include \"util.h\"\nint main() { std::cout << twice(21) << std::endl; }" },
            { "name": "util.h", "content": "int twice(int x);" },
            { "name": "util.cpp", "content": "#include \"util.h\"\nint twice(int x) { return 2 * x; }" }
        ]}),
    )
    .await;
    assert_eq!(body["run"]["stdout"], "42\n", "{body}");

    if app.has_language("java").await {
        let (_, body) = execute(
            &app,
            json!({ "language": "java", "files": [
                { "name": "Main.java", "content": "public class Main { public static void main(String[] a) { System.out.println(Helper.greet()); } }" },
                { "name": "Helper.java", "content": "public class Helper { static String greet() { return \"hi from helper\"; } }" }
            ]}),
        )
        .await;
        assert_eq!(body["run"]["stdout"], "hi from helper\n", "{body}");
    }
}

#[tokio::test]
async fn base64_and_hex_contents_are_decoded() {
    use base64::Engine;
    let app = spawn_app().await;
    let source = "print(open('blob.bin', 'rb').read().hex())";
    let encoded = base64::engine::general_purpose::STANDARD.encode(source);
    let (status, body) = execute(
        &app,
        json!({ "language": "python", "files": [
            { "name": "main.py", "content": encoded, "encoding": "base64" },
            { "name": "blob.bin", "content": "00ff10", "encoding": "hex" }
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["run"]["stdout"], "00ff10\n", "{body}");
    let (status, body) = execute(
        &app,
        json!({ "language": "python", "files": [{ "content": "zz", "encoding": "hex" }] }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("hex"));
}

#[tokio::test]
async fn each_status_is_reported_in_pistons_terms() {
    let app = spawn_app_with(&[("MAX_OUTPUT_BYTES", "5000")]).await;
    let cases = [
        ("while True:\n    pass", json!({ "run_timeout": 500 }), "TO"),
        ("while True:\n    print('x' * 100)", json!({}), "OL"),
        (
            "import sys\nwhile True:\n    print('x' * 100, file=sys.stderr)",
            json!({}),
            "EL",
        ),
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
            json!({}),
            "SG",
        ),
        ("import sys\nsys.exit(3)", json!({}), "RE"),
        ("print('fine')", json!({}), ""),
    ];
    for (code, extra, expected) in cases {
        let mut request = json!({ "language": "python", "files": [{ "content": code }] });
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, body) = execute(&app, request).await;
        assert_eq!(status, 200, "{body}");
        let run = &body["run"];
        if expected.is_empty() {
            assert_eq!(run["status"], Value::Null, "{body}");
        } else {
            assert_eq!(run["status"], expected, "{code}: {body}");
            assert!(run["message"].is_string(), "{body}");
        }
        match expected {
            "SG" => {
                assert_eq!(run["signal"], "SIGSEGV");
                assert_eq!(run["code"], Value::Null);
            }
            "RE" => assert_eq!(run["code"], 3),
            _ => {}
        }
        for field in ["cpu_time", "wall_time", "memory"] {
            assert!(run[field].is_u64(), "{field} in {run}");
        }
    }
}

#[tokio::test]
async fn request_limits_may_lower_but_never_raise_the_servers() {
    let app = spawn_app_with(&[("RUN_TIMEOUT_SECS", "5"), ("MEMORY_LIMIT_MB", "256")]).await;
    let file = json!([{ "content": "print(1)" }]);
    for (field, value) in [
        ("run_timeout", json!(6000)),
        ("compile_timeout", json!(10_000_000)),
        ("run_memory_limit", json!(1_000_000_000u64)),
        ("run_timeout", json!(0)),
    ] {
        let mut request = json!({ "language": "python", "files": file });
        request[field] = value.clone();
        let (status, body) = execute(&app, request).await;
        assert_eq!(status, 400, "{field}={value}: {body}");
        assert!(body["message"].as_str().unwrap().contains(field), "{body}");
    }
    // A lower memory limit binds.
    let (_, body) = execute(
        &app,
        json!({ "language": "python", "files": [{ "content": "x = bytearray(150 * 1024 * 1024)\nprint('allocated')" }], "run_memory_limit": 64 * 1024 * 1024 }),
    )
    .await;
    assert_ne!(body["run"]["stdout"], "allocated\n", "{body}");
}

#[tokio::test]
async fn bad_requests_get_pistons_error_shape() {
    let app = spawn_app().await;
    let cases = [
        json!({ "language": "cobol", "files": [{ "content": "x" }] }),
        json!({ "language": "python", "version": "2.7", "files": [{ "content": "x" }] }),
        json!({ "language": "python", "files": [] }),
        json!({ "language": "python", "files": [{ "name": "../escape.py", "content": "x" }] }),
        json!({ "language": "python", "files": [{ "name": "/etc/passwd", "content": "x" }] }),
        json!({ "language": "python", "files": [{ "name": "a.py", "content": "x" }, { "name": "a.py", "content": "y" }] }),
        json!({ "language": "python", "files": [{ "content": "x", "encoding": "rot13" }] }),
        json!({ "files": [{ "content": "x" }] }),
    ];
    for request in cases {
        let (status, body) = execute(&app, request.clone()).await;
        assert_eq!(status, 400, "{request} -> {body}");
        assert!(body["message"].is_string(), "{body}");
        assert!(body.get("error").is_none());
    }
    let response = app.post_raw("/api/v2/execute", "{ not json").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].is_string(), "{body}");
}
