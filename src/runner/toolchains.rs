//! Start-up detection of the installed toolchains and their versions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

use super::languages::{Language, LanguageId, LANGUAGES};
use super::process::find_on_path;

/// What was found for one language.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Toolchain {
    pub language: &'static str,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub available: bool,
    /// Version of the first toolchain program, e.g. "12.2.0".
    pub version: Option<String>,
    /// Why the language is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Toolchains {
    by_language: HashMap<LanguageId, Toolchain>,
    /// Directory holding `@types/node`, for TypeScript's `--typeRoots`.
    pub node_type_roots: Option<PathBuf>,
}

impl Toolchains {
    /// Probes every language concurrently on the sandbox `PATH`.
    pub async fn detect(sandbox_path: &str) -> Self {
        let probes = LANGUAGES.iter().map(|lang| probe(lang, sandbox_path));
        let found = join_all_spawned(probes).await;
        let by_language = found.into_iter().map(|t| (t.0, t.1)).collect();
        let toolchains = Toolchains {
            by_language,
            node_type_roots: find_node_type_roots(sandbox_path).await,
        };
        for t in toolchains.all() {
            match &t.missing {
                None => tracing::info!(language = t.name, version = ?t.version, "toolchain found"),
                Some(why) => tracing::warn!(language = t.name, %why, "language unavailable"),
            }
        }
        toolchains
    }

    pub fn get(&self, id: LanguageId) -> &Toolchain {
        &self.by_language[&id]
    }

    /// All languages in table order.
    pub fn all(&self) -> Vec<&Toolchain> {
        LANGUAGES
            .iter()
            .map(|lang| &self.by_language[&lang.id])
            .collect()
    }

    pub fn available_names(&self) -> Vec<&'static str> {
        self.all()
            .into_iter()
            .filter(|t| t.available)
            .map(|t| t.name)
            .collect()
    }
}

/// Runs the futures concurrently on the runtime and collects their outputs in order.
async fn join_all_spawned<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("toolchain probe panicked"));
    }
    results
}

fn probe(
    lang: &'static Language,
    sandbox_path: &str,
) -> impl std::future::Future<Output = (LanguageId, Toolchain)> + Send + 'static {
    let sandbox_path = sandbox_path.to_string();
    async move {
        let mut toolchain = Toolchain {
            language: lang.key,
            name: lang.display_name,
            aliases: lang.aliases,
            available: false,
            version: None,
            missing: None,
        };
        let missing: Vec<&str> = lang
            .toolchain
            .iter()
            .copied()
            .filter(|program| find_on_path(program, &sandbox_path).is_none())
            .collect();
        if !missing.is_empty() {
            toolchain.missing = Some(format!("{} not installed", missing.join(" and ")));
            return (lang.id, toolchain);
        }
        let program = find_on_path(lang.toolchain[0], &sandbox_path).expect("checked above");
        match version_of(program, lang.version_args, &sandbox_path).await {
            Some(version) => {
                toolchain.available = true;
                toolchain.version = Some(version);
            }
            None => {
                toolchain.missing = Some(format!("{} does not report a version", lang.toolchain[0]))
            }
        }
        (lang.id, toolchain)
    }
}

async fn version_of(program: PathBuf, args: &[&str], sandbox_path: &str) -> Option<String> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", sandbox_path)
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(15), command.output())
        .await
        .ok()?
        .ok()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    extract_version(&text)
}

/// The first dotted version number in a tool's banner.
pub fn extract_version(banner: &str) -> Option<String> {
    static VERSION: OnceLock<Regex> = OnceLock::new();
    let re = VERSION.get_or_init(|| Regex::new(r"\d+(?:\.\d+)+").expect("valid regex"));
    re.find(banner).map(|m| m.as_str().to_string())
}

/// Where `@types/node` lives: the global npm root next to `tsc`, or a system path.
async fn find_node_type_roots(sandbox_path: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(tsc) = find_on_path("tsc", sandbox_path) {
        // npm installs `bin/tsc` as a link into `lib/node_modules/typescript/bin/tsc`.
        if let Ok(real) = std::fs::canonicalize(&tsc) {
            if let Some(node_modules) = real.ancestors().find(|p| p.ends_with("node_modules")) {
                candidates.push(node_modules.join("@types"));
            }
        }
    }
    candidates.push(PathBuf::from("/usr/lib/node_modules/@types"));
    candidates.push(PathBuf::from("/usr/local/lib/node_modules/@types"));
    candidates.into_iter().find(|p| p.join("node").is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_extracted_from_common_banners() {
        let cases = [
            ("12.2.0\n", "12.2.0"),
            ("Python 3.11.2", "3.11.2"),
            ("v20.20.2", "20.20.2"),
            ("javac 17.0.15", "17.0.15"),
            ("go version go1.19.8 linux/amd64", "1.19.8"),
            ("Version 5.9.3", "5.9.3"),
            ("rustc 1.63.0", "1.63.0"),
        ];
        for (banner, version) in cases {
            assert_eq!(
                extract_version(banner).as_deref(),
                Some(version),
                "{banner}"
            );
        }
        assert_eq!(extract_version("no digits"), None);
    }
}
