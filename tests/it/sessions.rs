//! Interactive sessions through the HTTP API: the prompt matrix per language,
//! every status, divergence, end-of-file, and the session limit on DynamoDB Local.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sr_runner::sessions::store::dynamo::DynamoStore;
use sr_runner::sessions::store::SessionStore;

use crate::common::{spawn_app, spawn_app_with, spawn_app_with_store, TestApp};
use crate::dynamo_local;

/// Programs that ask two questions, each prompt printed without a newline
/// right before reading, as learners write them.
const PROMPT_PROGRAMS: &[(&str, &str)] = &[
    ("C", "#include <stdio.h>\nint main(void){ char name[64]; int age; printf(\"name? \"); scanf(\"%63s\", name); printf(\"age? \"); scanf(\"%d\", &age); printf(\"hi %s, %d\\n\", name, age); return 0; }"),
    ("C++", "#include <bits/stdc++.h>\nusing namespace std;\nint main(){ string name; int age; cout << \"name? \"; cin >> name; cout << \"age? \"; cin >> age; cout << \"hi \" << name << \", \" << age << endl; }"),
    ("Python", "name = input('name? ')\nage = int(input('age? '))\nprint(f'hi {name}, {age}')"),
    ("Java", "import java.util.Scanner;\npublic class Main { public static void main(String[] args) { Scanner in = new Scanner(System.in); System.out.print(\"name? \"); String name = in.next(); System.out.print(\"age? \"); int age = in.nextInt(); System.out.println(\"hi \" + name + \", \" + age); } }"),
    ("JavaScript", "const readline = require('readline');\nconst rl = readline.createInterface({ input: process.stdin, output: process.stdout });\nrl.question('name? ', (name) => { rl.question('age? ', (age) => { console.log(`hi ${name}, ${age}`); rl.close(); }); });"),
    ("Go", "package main\nimport \"fmt\"\nfunc main() { var name string; var age int; fmt.Print(\"name? \"); fmt.Scan(&name); fmt.Print(\"age? \"); fmt.Scan(&age); fmt.Printf(\"hi %s, %d\\n\", name, age) }"),
];

async fn prompt_dialogue(app: &TestApp, language: &str, code: &str) {
    // Warm the compile cache, so the timing below measures the run, not the compiler.
    let (status, body) = app.start(language, code).await;
    assert_eq!(status, 200, "{language}: {body}");
    app.kill(body["sessionId"].as_str().unwrap()).await;

    let started = Instant::now();
    let (status, body) = app.start(language, code).await;
    let waited = started.elapsed();
    assert_eq!(status, 200, "{language}: {body}");
    assert_eq!(
        body["output"], "name? ",
        "{language}: prompt must show before waiting: {body}"
    );
    assert_eq!(body["waitingForInput"], true, "{language}: {body}");
    assert_eq!(body["finished"], false);
    // Detected, not guessed: far below any run limit.
    assert!(
        waited < Duration::from_secs(3),
        "{language}: waiting detected after {waited:?}"
    );
    let id = body["sessionId"].as_str().unwrap().to_string();

    let (status, body) = app.input(&id, "ada").await;
    assert_eq!(status, 200, "{language}: {body}");
    assert_eq!(
        body["output"], "age? ",
        "{language}: only the new output: {body}"
    );
    assert_eq!(body["waitingForInput"], true, "{language}: {body}");

    let (status, body) = app.input(&id, "36").await;
    assert_eq!(status, 200, "{language}: {body}");
    assert_eq!(body["output"], "hi ada, 36\n", "{language}: {body}");
    assert_eq!(body["waitingForInput"], false, "{language}: {body}");
    assert_eq!(body["finished"], true);
    assert_eq!(body["exitCode"], 0, "{language}: {body}");

    let (status, transcript) = app.get(&format!("/api/execute/output/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        transcript["output"], "name? age? hi ada, 36\n",
        "{language}"
    );
    assert_eq!(transcript["finished"], true);

    let (status, body) = app.input(&id, "more").await;
    assert_eq!(status, 410, "{language}: input after the end: {body}");
    assert!(body["error"].is_string());
    app.assert_clean().await;
}

#[tokio::test]
async fn prompts_appear_and_each_input_shows_the_next_output_in_every_language() {
    let app = spawn_app().await;
    for (language, code) in PROMPT_PROGRAMS {
        if app.has_language(language).await {
            prompt_dialogue(&app, language, code).await;
        }
    }
}

#[tokio::test]
async fn the_prompt_dialogue_works_on_dynamodb_local() {
    let (store, _) = dynamo_local::fresh_store(20, true).await;
    let app = spawn_app_with_store(&[], Some(Arc::new(store))).await;
    let (language, code) = PROMPT_PROGRAMS[2];
    prompt_dialogue(&app, language, code).await;
}

#[tokio::test]
async fn a_program_that_sleeps_or_computes_is_not_waiting_for_input() {
    let app = spawn_app().await;
    let code = "import time\nprint('working', flush=True)\ntime.sleep(1.2)\nn = sum(range(3_000_000))\nprint('done', n)";
    let (status, body) = app.start("python", code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["waitingForInput"], false, "{body}");
    assert_eq!(body["finished"], true);
    assert_eq!(body["output"], "working\ndone 4499998500000\n");
    // It finished without reading: its slot is free at once.
    let (_, health) = app.get("/api/health").await;
    assert_eq!(health["activeSessions"], 0, "{health}");
}

#[tokio::test]
async fn end_of_file_lets_a_program_that_reads_everything_finish() {
    let app = spawn_app().await;
    let code = "import sys\nlines = sys.stdin.read().splitlines()\nprint(len(lines), 'lines:', ','.join(lines))";
    let (_, body) = app.start("python", code).await;
    assert_eq!(body["waitingForInput"], true, "{body}");
    let id = body["sessionId"].as_str().unwrap();
    let (_, body) = app.input(id, "a").await;
    assert_eq!(body["waitingForInput"], true, "{body}");
    let (status, body) = app
        .post(
            "/api/execute/input",
            &json!({ "sessionId": id, "input": "b", "eof": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"], "2 lines: a,b\n", "{body}");
    assert_eq!(body["finished"], true);
}

#[tokio::test]
async fn a_replay_that_prints_something_else_is_flagged_as_diverged() {
    let app = spawn_app().await;
    let code = "import random\nprint('lucky number', random.randrange(10**12))\nname = input('name? ')\nprint('bye', name)";
    let (_, body) = app.start("python", code).await;
    let id = body["sessionId"].as_str().unwrap();
    let first = body["output"].as_str().unwrap().to_string();
    let (status, body) = app.input(id, "ada").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replayDiverged"], true, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("differ"),
        "{body}"
    );
    let shown = body["output"].as_str().unwrap();
    assert!(shown.ends_with("bye ada\n"), "{body}");
    assert!(
        !first.ends_with(shown),
        "the new output is shown, not the old"
    );
    // A deterministic program never diverges.
    let (_, body) = app.start("python", "x = input('x? ')\nprint(x)").await;
    let (_, body) = app.input(body["sessionId"].as_str().unwrap(), "1").await;
    assert_eq!(body["replayDiverged"], false, "{body}");
}

#[tokio::test]
async fn unknown_expired_and_malformed_sessions_get_clear_errors() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, body) = app.input(&unknown, "x").await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let (status, _) = app.get(&format!("/api/execute/output/{unknown}")).await;
    assert_eq!(status, 404);
    let (status, _) = app.kill(&unknown).await;
    assert_eq!(status, 404);
    for garbage in ["not-a-uuid", "../../etc/passwd", ""] {
        let (status, body) = app.input(garbage, "x").await;
        assert_eq!(status, 400, "{garbage:?}: {body}");
    }
    let (status, _) = app.get("/api/execute/output/nope").await;
    assert_eq!(status, 400);
    let (status, _) = app
        .post("/api/execute/input", &json!({ "input": "x" }))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_killed_session_answers_410_and_frees_its_slot() {
    let app = spawn_app_with(&[("MAX_SESSIONS", "1")]).await;
    let (_, body) = app.start("python", "input('? ')").await;
    let id = body["sessionId"].as_str().unwrap().to_string();
    let (status, _) = app.start("python", "input('? ')").await;
    assert_eq!(status, 429);
    let (status, body) = app.kill(&id).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    let (status, body) = app.input(&id, "x").await;
    assert_eq!(status, 410, "{body}");
    let (status, _) = app.start("python", "input('? ')").await;
    assert_eq!(status, 200, "the killed session's slot is free");
}

#[tokio::test]
async fn the_session_limit_answers_429_with_retry_after() {
    let app = spawn_app_with(&[("MAX_SESSIONS", "2")]).await;
    for _ in 0..2 {
        let (status, body) = app.start("python", "input()").await;
        assert_eq!(status, 200, "{body}");
    }
    let response = app
        .post_raw(
            "/api/execute/start",
            json!({ "language": "python", "code": "input()" }).to_string(),
        )
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("sessions are in use"),
        "{body}"
    );
    let (_, health) = app.get("/api/health").await;
    assert_eq!(health["activeSessions"], 2);
    assert_eq!(health["maxSessions"], 2);
}

#[tokio::test]
async fn two_inputs_at_once_do_not_corrupt_the_session() {
    let app = Arc::new(spawn_app().await);
    // Each replay takes a while before prompting again, so the inputs overlap.
    let code = "import time\nwhile True:\n    time.sleep(0.4)\n    line = input('> ')\n    print('got', line)";
    let (_, body) = app.start("python", code).await;
    let id = body["sessionId"].as_str().unwrap().to_string();
    let send = |text: &'static str| {
        let app = app.clone();
        let id = id.clone();
        tokio::spawn(async move { app.input(&id, text).await })
    };
    let (a, b) = (send("one"), send("two"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let (_, transcript) = app.get(&format!("/api/execute/output/{id}")).await;
    assert_eq!(
        transcript["inputs"], 1,
        "exactly the winner's input is recorded: {transcript}"
    );
}

#[tokio::test]
async fn oversized_session_input_is_413_and_loses_nothing() {
    let app = spawn_app_with(&[("MAX_SESSION_INPUT_BYTES", "100")]).await;
    let (_, body) = app
        .start("python", "while True:\n    print(input('> '))")
        .await;
    let id = body["sessionId"].as_str().unwrap();
    let (status, _) = app.input(id, "first").await;
    assert_eq!(status, 200);
    let (status, body) = app.input(id, &"x".repeat(200)).await;
    assert_eq!(status, 413, "{body}");
    let (status, body) = app.input(id, "second").await;
    assert_eq!(status, 200, "the session still works: {body}");
    assert_eq!(body["output"], "second\n> ");
}

#[tokio::test]
async fn a_compile_error_at_start_is_shown_and_ends_the_session() {
    let app = spawn_app().await;
    let (status, body) = app.start("c", "int main(void){ return nope; }").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["finished"], true);
    assert_eq!(body["status"], "compile_error");
    assert!(body["output"].as_str().unwrap().contains("nope"), "{body}");
    let (_, health) = app.get("/api/health").await;
    assert_eq!(health["activeSessions"], 0);
}

#[tokio::test]
async fn an_unreachable_store_is_a_503_not_a_hang() {
    // Nothing listens on port 9 of loopback.
    let client = dynamo_local::client_for("http://127.0.0.1:9");
    let store: Arc<dyn SessionStore> = Arc::new(DynamoStore::new(client, "sessions", 20));
    let app = spawn_app_with_store(&[], Some(store)).await;
    let started = Instant::now();
    let (status, body) = app.start("python", "input()").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("unavailable"),
        "{body}"
    );
    let (status, body) = app.input(&uuid::Uuid::new_v4().to_string(), "x").await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = app.get("/api/health").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answered in {:?}",
        started.elapsed()
    );
    // One-shot runs do not need the store and keep working.
    let body = app.run("python", "print(1)", "").await;
    assert_eq!(body["stdout"], "1\n");
}

#[tokio::test]
async fn forty_concurrent_starts_across_instances_get_exactly_twenty_sessions() {
    let (_, table) = dynamo_local::fresh_store(20, true).await;
    // Four instances, each with its own client, as four Lambda instances would have.
    let mut apps = Vec::new();
    for _ in 0..4 {
        let store = DynamoStore::new(dynamo_local::client(), &table, 20);
        let app = spawn_app_with_store(
            &[("SESSION_TTL_SECS", "10"), ("MAX_CONCURRENT_RUNS", "4")],
            Some(Arc::new(store)),
        )
        .await;
        apps.push(Arc::new(app));
    }
    let code = "name = input('name? ')";
    let starts: Vec<_> = (0..40)
        .map(|i| {
            let app = apps[i % apps.len()].clone();
            tokio::spawn(async move { app.start("python", code).await })
        })
        .collect();
    let mut ok = Vec::new();
    let mut busy = 0;
    for start in starts {
        let (status, body) = start.await.unwrap();
        match status {
            200 => ok.push(body["sessionId"].as_str().unwrap().to_string()),
            429 => busy += 1,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok.len(), busy), (20, 20));
    for app in &apps {
        let (_, health) = app.get("/api/health").await;
        assert_eq!(health["activeSessions"], 20, "{health}");
    }
    // Kills free slots for everyone.
    for id in &ok[..5] {
        let (status, _) = apps[0].kill(id).await;
        assert_eq!(status, 200);
    }
    let (_, health) = apps[1].get("/api/health").await;
    assert_eq!(health["activeSessions"], 15);
    for _ in 0..5 {
        let (status, body) = apps[2].start("python", code).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = apps[3].start("python", code).await;
    assert_eq!(status, 429);
    // Leases expire on their own (as after a crashed invocation).
    tokio::time::sleep(Duration::from_secs(11)).await;
    let (_, health) = apps[0].get("/api/health").await;
    assert_eq!(health["activeSessions"], 0, "{health}");
    let (status, body) = apps[3].start("python", code).await;
    assert_eq!(status, 200, "{body}");
}
