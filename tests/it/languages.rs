//! Every language: reading stdin, a compile error, a runtime error, and stdout
//! and stderr interleaved in the order they were written.

use serde_json::Value;

use crate::common::spawn_app;

struct LanguageCase {
    language: &'static str,
    /// Reads two integers and prints their sum.
    sum: &'static str,
    /// Does not compile (`None` for interpreted languages).
    compile_error: Option<(&'static str, &'static str)>,
    /// Fails at run time: the code, the expected exit code or signal, and a text
    /// the error output must contain.
    runtime_error: (&'static str, Expected, &'static str),
    /// Writes out1 (stdout), err1 (stderr), out2 (stdout), flushing in between and
    /// pausing long enough (150 ms) that a loaded machine still reads them in order:
    /// two pipes carry no timestamps, so chunks that wait together are unordered.
    interleaved: &'static str,
}

enum Expected {
    Exit(i64),
    Signal(&'static str),
}

async fn check_language(case: LanguageCase) {
    let app = spawn_app().await;
    if !app.has_language(case.language).await {
        return;
    }
    let lang = case.language;

    let body = app.run(lang, case.sum, "20 22\n").await;
    assert_eq!(body["stdout"], "42\n", "{lang} sum: {body}");
    assert_eq!(body["status"], "success", "{lang}: {body}");
    assert_eq!(body["exitCode"], 0);

    if let Some((code, diagnostic)) = case.compile_error {
        let body = app.run(lang, code, "").await;
        assert_eq!(body["status"], "compile_error", "{lang}: {body}");
        let shown = body["stdout"].as_str().unwrap();
        assert!(
            shown.contains(diagnostic),
            "{lang}: diagnostics {shown:?} lack {diagnostic:?}"
        );
        assert_eq!(body["compile"]["success"], false);
        assert!(body["run"].is_null());
    }

    let (code, expected, message) = case.runtime_error;
    let body = app.run(lang, code, "").await;
    match expected {
        Expected::Exit(status) => {
            assert_eq!(body["exitCode"], status, "{lang}: {body}");
            assert_eq!(body["status"], "runtime_error", "{lang}: {body}");
        }
        Expected::Signal(signal) => {
            assert_eq!(body["signal"], signal, "{lang}: {body}");
            assert_eq!(body["status"], "killed_by_signal", "{lang}: {body}");
        }
    }
    let shown = body["stdout"].as_str().unwrap();
    assert!(
        shown.contains(message),
        "{lang}: {shown:?} lacks {message:?}"
    );
    assert!(
        body["run"]["stderr"].as_str().unwrap().contains(message)
            || matches!(expected, Expected::Signal(_))
    );

    let body = app.run(lang, case.interleaved, "").await;
    assert_interleaved(lang, &body);
    app.assert_clean().await;
}

fn assert_interleaved(lang: &str, body: &Value) {
    assert_eq!(body["stdout"], "out1\nerr1\nout2\n", "{lang}: {body}");
    assert_eq!(body["run"]["stdout"], "out1\nout2\n", "{lang}: {body}");
    assert_eq!(body["run"]["stderr"], "err1\n", "{lang}: {body}");
}

#[tokio::test]
async fn c_programs_run() {
    check_language(LanguageCase {
        language: "C",
        sum: "#include <stdio.h>\nint main(void){int a,b;scanf(\"%d %d\",&a,&b);printf(\"%d\\n\",a+b);return 0;}",
        compile_error: Some(("int main(void){ return undefined_name; }", "undefined_name")),
        runtime_error: (
            "#include <stdio.h>\n#include <stdlib.h>\nint main(void){fprintf(stderr,\"bad input\\n\");exit(3);}",
            Expected::Exit(3),
            "bad input",
        ),
        interleaved: "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"out1\\n\");fflush(stdout);usleep(150000);fprintf(stderr,\"err1\\n\");usleep(150000);printf(\"out2\\n\");return 0;}",
    })
    .await;
}

#[tokio::test]
async fn cpp_programs_run() {
    check_language(LanguageCase {
        language: "C++",
        sum: "#include <bits/stdc++.h>\nusing namespace std;\nint main(){long long a,b;cin>>a>>b;cout<<a+b<<endl;}",
        compile_error: Some(("#include <iostream>\nint main(){ std::cout << missing_variable; }", "missing_variable")),
        runtime_error: (
            "#include <stdexcept>\nint main(){ throw std::runtime_error(\"boom from cpp\"); }",
            Expected::Signal("SIGABRT"),
            "boom from cpp",
        ),
        interleaved: "#include <iostream>\n#include <unistd.h>\nint main(){std::cout<<\"out1\"<<std::endl;usleep(150000);std::cerr<<\"err1\"<<std::endl;usleep(150000);std::cout<<\"out2\"<<std::endl;}",
    })
    .await;
}

#[tokio::test]
async fn python_programs_run() {
    check_language(LanguageCase {
        language: "Python",
        sum: "a, b = map(int, input().split())\nprint(a + b)",
        compile_error: None,
        runtime_error: (
            "def f():\n    raise ValueError('boom from python')\nf()",
            Expected::Exit(1),
            "ValueError: boom from python",
        ),
        interleaved: "import sys, time\nprint('out1', flush=True)\ntime.sleep(0.15)\nprint('err1', file=sys.stderr, flush=True)\ntime.sleep(0.15)\nprint('out2', flush=True)",
    })
    .await;
}

#[tokio::test]
async fn javascript_programs_run() {
    check_language(LanguageCase {
        language: "JavaScript",
        sum: "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);",
        compile_error: None,
        runtime_error: ("throw new Error('boom from js');", Expected::Exit(1), "boom from js"),
        interleaved: "const sleep = ms => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);\nprocess.stdout.write('out1\\n'); sleep(150); process.stderr.write('err1\\n'); sleep(150); process.stdout.write('out2\\n');",
    })
    .await;
}

#[tokio::test]
async fn java_programs_run() {
    check_language(LanguageCase {
        language: "Java",
        sum: "import java.util.*;\npublic class Main {\n  public static void main(String[] args) {\n    Scanner in = new Scanner(System.in);\n    long a = in.nextLong(), b = in.nextLong();\n    System.out.println(a + b);\n  }\n}",
        compile_error: Some(("public class Main { public static void main(String[] a) { int x = \"text\"; } }", "incompatible types")),
        runtime_error: (
            "public class Solution { public static void main(String[] a) { throw new IllegalStateException(\"boom from java\"); } }",
            Expected::Exit(1),
            "boom from java",
        ),
        interleaved: "public class Main { public static void main(String[] a) throws Exception { System.out.println(\"out1\"); System.out.flush(); Thread.sleep(150); System.err.println(\"err1\"); System.err.flush(); Thread.sleep(150); System.out.println(\"out2\"); } }",
    })
    .await;
}

#[tokio::test]
async fn go_programs_run() {
    check_language(LanguageCase {
        language: "Go",
        sum: "package main\nimport \"fmt\"\nfunc main() { var a, b int; fmt.Scan(&a, &b); fmt.Println(a + b) }",
        compile_error: Some(("package main\nfunc main() { x := undefinedThing }", "undefinedThing")),
        runtime_error: ("package main\nfunc main() { panic(\"boom from go\") }", Expected::Exit(2), "boom from go"),
        interleaved: "package main\nimport (\"fmt\"; \"os\"; \"time\")\nfunc main() { fmt.Println(\"out1\"); time.Sleep(150 * time.Millisecond); fmt.Fprintln(os.Stderr, \"err1\"); time.Sleep(150 * time.Millisecond); fmt.Println(\"out2\") }",
    })
    .await;
}

#[tokio::test]
async fn typescript_programs_run() {
    check_language(LanguageCase {
        language: "TypeScript",
        sum: "const input: string = require('fs').readFileSync(0, 'utf8');\nconst [a, b]: number[] = input.trim().split(/\\s+/).map(Number);\nconsole.log(a + b);",
        compile_error: Some(("const n: number = 'not a number';\nconsole.log(n);", "TS2322")),
        runtime_error: ("function f(): never { throw new Error('boom from ts'); }\nf();", Expected::Exit(1), "boom from ts"),
        interleaved: "const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);\nprocess.stdout.write('out1\\n'); sleep(150); process.stderr.write('err1\\n'); sleep(150); process.stdout.write('out2\\n');",
    })
    .await;
}

#[tokio::test]
async fn rust_programs_run() {
    check_language(LanguageCase {
        language: "Rust",
        sum: "use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s).unwrap(); let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect(); println!(\"{}\", v[0] + v[1]); }",
        compile_error: Some(("fn main() { let x: i32 = \"text\"; }", "mismatched types")),
        runtime_error: ("fn main() { panic!(\"boom from rust\"); }", Expected::Exit(101), "boom from rust"),
        interleaved: "use std::io::Write;\nuse std::{thread, time::Duration};\nfn main() { println!(\"out1\"); std::io::stdout().flush().unwrap(); thread::sleep(Duration::from_millis(150)); eprintln!(\"err1\"); thread::sleep(Duration::from_millis(150)); println!(\"out2\"); }",
    })
    .await;
}

#[tokio::test]
async fn the_second_run_of_the_same_code_reuses_the_cached_binary() {
    let app = spawn_app().await;
    if !app.has_language("cpp").await {
        return;
    }
    // A unique program, so the shared test cache cannot already hold it.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let code = format!(
        "#include <cstdio>\nint main(){{ printf(\"%d\\n\", {}); }}",
        nonce % 1000
    );
    let first = app.run("cpp", &code, "").await;
    assert_eq!(first["compile"]["cached"], false, "{first}");
    let second = app.run("cpp", &code, "").await;
    assert_eq!(second["compile"]["cached"], true, "{second}");
    assert_eq!(first["stdout"], second["stdout"]);
    assert!(
        second["timings"]["compileMs"].as_u64().unwrap()
            < first["timings"]["compileMs"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn the_precompiled_header_serves_bits_stdcxx() {
    let app = spawn_app().await;
    if !app.has_language("cpp").await {
        return;
    }
    let runner = &app.app_state.runner;
    // Wait for the background build (start-up warm-up) to finish.
    runner.warm_up().await;
    let pch_dir = runner
        .pch_dir()
        .expect("precompiled header built")
        .to_path_buf();

    // GCC's -H marks a header loaded from a valid .gch with '!'.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("main.cpp");
    std::fs::write(&source, "#include <bits/stdc++.h>\nint main(){}\n").unwrap();
    let output = std::process::Command::new("g++")
        .args(sr_runner::runner::plan::CPP_FLAGS)
        .arg("-I")
        .arg(&pch_dir)
        .args(["-H", "-fsyntax-only"])
        .arg(&source)
        .output()
        .unwrap();
    let trace = String::from_utf8_lossy(&output.stderr);
    assert!(
        trace
            .lines()
            .any(|l| l.starts_with("! ") && l.ends_with("stdc++.h.gch")),
        "precompiled header not used by the runner's flags:\n{}",
        &trace[..trace.len().min(2000)]
    );

    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let code = format!("#include <bits/stdc++.h>\nint main(){{ std::vector<int> v{{{}}}; std::cout << v.size() << '\\n'; }}", nonce % 1000);
    let body = app.run("cpp", &code, "").await;
    assert_eq!(body["stdout"], "1\n", "{body}");
    assert_eq!(body["compile"]["usedPrecompiledHeader"], true, "{body}");
}
