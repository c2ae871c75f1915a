//! How each language is built and started: argv and environment, as data derived
//! from the language table and the limits.

use std::path::Path;

use super::languages::{java_main_class, Language, LanguageId};
use super::process::find_on_path;
use crate::config::Limits;

/// Flags that go into a compile and into its cache key.
pub const C_FLAGS: &[&str] = &["-std=gnu17", "-O2", "-pipe"];
pub const CPP_FLAGS: &[&str] = &["-std=c++17", "-O2", "-pipe"];

/// Loaded with `node --require` in interactive runs: releases stdin when the
/// program closes its last readline interface, so it exits as in a terminal.
pub const NODE_INTERACTIVE_PRELOAD: &str = include_str!("node_interactive_preload.js");
/// File name of that preload inside the run directory.
pub const NODE_PRELOAD_FILE: &str = ".sr-runner-interactive.js";

/// Where a build step writes its output, relative to the run directory.
pub const BUILD_DIR: &str = "build";

/// A program to start: argv and its complete environment.
#[derive(Debug, Clone)]
pub struct CommandLine {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// Inputs a plan needs beyond the language.
#[derive(Debug, Clone, Copy)]
pub struct PlanContext<'a> {
    pub run_dir: &'a Path,
    pub sandbox_path: &'a str,
    /// Directory holding `bits/stdc++.h.gch`, when the precompiled header is ready.
    pub pch_dir: Option<&'a Path>,
    /// Directory holding `@types/node`.
    pub node_type_roots: Option<&'a Path>,
    /// Interactive runs behave as in a terminal: unbuffered prompts.
    pub interactive: bool,
}

/// The environment every user process gets: nothing of the server's.
pub fn base_env(ctx: &PlanContext) -> Vec<(String, String)> {
    let run_dir = ctx.run_dir.display().to_string();
    vec![
        ("PATH".into(), ctx.sandbox_path.into()),
        ("HOME".into(), run_dir.clone()),
        ("TMPDIR".into(), format!("{run_dir}/tmp")),
        ("LANG".into(), "C.UTF-8".into()),
        ("LC_ALL".into(), "C.UTF-8".into()),
    ]
}

/// The compile step, if the language has one: argv and extra environment.
pub fn compile_command(
    lang: &Language,
    source_file: &str,
    other_files: &[&str],
    ctx: &PlanContext,
) -> Option<CommandLine> {
    // Sources compiled together with the entry file (multi-file programs).
    let companions = |extensions: &[&str]| -> Vec<String> {
        other_files
            .iter()
            .filter(|name| extensions.iter().any(|ext| name.ends_with(ext)))
            .map(|name| name.to_string())
            .collect()
    };
    let out = format!("{BUILD_DIR}/main");
    let run_dir = ctx.run_dir.display().to_string();
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut env = base_env(ctx);
    let argv = match lang.id {
        LanguageId::Python | LanguageId::JavaScript => return None,
        LanguageId::C => {
            let mut argv = strings(&["gcc"]);
            argv.extend(strings(C_FLAGS));
            argv.extend(strings(&["-o", &out, source_file]));
            argv.extend(companions(&[".c"]));
            argv.push("-lm".into());
            argv
        }
        LanguageId::Cpp => {
            let mut argv = strings(&["g++"]);
            argv.extend(strings(CPP_FLAGS));
            if let Some(pch) = ctx.pch_dir {
                argv.push("-I".into());
                argv.push(pch.display().to_string());
            }
            argv.extend(strings(&["-o", &out, source_file]));
            argv.extend(companions(&[".cpp", ".cc", ".cxx"]));
            argv
        }
        LanguageId::Java => {
            let mut argv = strings(&[
                "javac",
                "-J-XX:+UseSerialGC",
                "-J-XX:TieredStopAtLevel=1",
                "-J-XX:-UsePerfData",
                "-J-Xmx512m",
                "-encoding",
                "UTF-8",
                "-d",
                BUILD_DIR,
                source_file,
            ]);
            argv.extend(companions(&[".java"]));
            argv
        }
        LanguageId::Go => {
            env.extend([
                ("GOCACHE".into(), format!("{run_dir}/.cache/go-build")),
                ("GOPATH".into(), format!("{run_dir}/.cache/go")),
                ("GO111MODULE".into(), "off".into()),
                ("CGO_ENABLED".into(), "0".into()),
                ("GOTELEMETRY".into(), "off".into()),
            ]);
            let mut argv = strings(&["go", "build", "-o", &out, source_file]);
            argv.extend(companions(&[".go"]));
            argv
        }
        LanguageId::TypeScript => {
            let mut argv = strings(&[
                "tsc",
                "--outDir",
                BUILD_DIR,
                "--target",
                "ES2020",
                "--module",
                "commonjs",
                "--noEmitOnError",
                "--pretty",
                "false",
                "--skipLibCheck",
            ]);
            if let Some(roots) = ctx.node_type_roots {
                argv.extend([
                    "--typeRoots".into(),
                    roots.display().to_string(),
                    "--types".into(),
                    "node".into(),
                ]);
            }
            argv.push(source_file.into());
            argv
        }
        LanguageId::Rust => strings(&["rustc", "-O", "--edition", "2021", "-o", &out, source_file]),
    };
    Some(CommandLine { argv, env })
}

/// The run step: argv and environment. `build` is the directory holding the
/// build output (a cache entry), unused by interpreted languages.
pub fn run_command(
    lang: &Language,
    source_file: &str,
    code: &str,
    build: &Path,
    limits: &Limits,
    ctx: &PlanContext,
) -> CommandLine {
    let mut env = base_env(ctx);
    let binary = build.join("main").display().to_string();
    let memory_mib = limits.memory_bytes / (1024 * 1024);
    // Heaps sized below the data limit, so runtimes fail with their own clear
    // out-of-memory error rather than a failed mmap.
    let heap_mib = (memory_mib * 3 / 4).max(16);
    let argv = match lang.id {
        // In a terminal, glibc flushes line-buffered stdout before reading stdin, so
        // `printf("name? "); scanf(...)` shows its prompt. Pipes are fully buffered;
        // stdbuf restores terminal behaviour (unbuffered stdin, line-buffered stdout).
        LanguageId::C | LanguageId::Cpp
            if ctx.interactive && find_on_path("stdbuf", ctx.sandbox_path).is_some() =>
        {
            vec!["stdbuf".into(), "-i0".into(), "-oL".into(), binary]
        }
        LanguageId::C | LanguageId::Cpp | LanguageId::Go | LanguageId::Rust => vec![binary],
        LanguageId::Python => {
            env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
            env.push(("PYTHONIOENCODING".into(), "utf-8".into()));
            if ctx.interactive {
                env.push(("PYTHONUNBUFFERED".into(), "1".into()));
            }
            vec!["python3".into(), source_file.into()]
        }
        LanguageId::JavaScript | LanguageId::TypeScript => {
            let mut argv = vec!["node".into(), format!("--max-old-space-size={heap_mib}")];
            if ctx.interactive {
                argv.push("--require".into());
                argv.push(ctx.run_dir.join(NODE_PRELOAD_FILE).display().to_string());
            }
            argv.push(match lang.id {
                LanguageId::TypeScript => build.join("main.js").display().to_string(),
                _ => source_file.into(),
            });
            argv
        }
        LanguageId::Java => vec![
            "java".into(),
            format!("-Xmx{}m", (memory_mib / 2).max(16)),
            "-XX:+UseSerialGC".into(),
            "-XX:-UsePerfData".into(),
            "-Xshare:auto".into(),
            "-cp".into(),
            build.display().to_string(),
            java_main_class(code),
        ],
    };
    CommandLine { argv, env }
}

/// Virtual-memory headroom a runtime needs beyond its heap: the JVM reserves
/// thread stacks, code cache and metaspace as writable mappings.
pub fn data_limit_for(lang: &Language, memory_bytes: u64) -> u64 {
    match lang.id {
        LanguageId::Java => memory_bytes * 2,
        _ => memory_bytes,
    }
}
