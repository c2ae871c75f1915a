//! The C++ precompiled header for `bits/stdc++.h`, built once with exactly the
//! flags user code is compiled with (GCC ignores a header built otherwise).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::cache::{cache_key, remove_tree};
use super::plan::CPP_FLAGS;
use super::sandbox::set_mode;

#[derive(Debug)]
pub struct PrecompiledHeader {
    root: PathBuf,
    sandbox_path: String,
    ready: OnceCell<Option<PathBuf>>,
}

impl PrecompiledHeader {
    pub fn new(cache_root: &Path, sandbox_path: &str, prebuilt: Option<&Path>) -> Self {
        let ready = OnceCell::new();
        if let Some(dir) = prebuilt {
            if dir.join("bits/stdc++.h.gch").is_file() {
                tracing::info!(dir = %dir.display(), "using the prebuilt C++ precompiled header");
                let _ = ready.set(Some(dir.to_path_buf()));
            } else {
                tracing::warn!(dir = %dir.display(), "PREBUILT_PCH_DIR holds no bits/stdc++.h.gch; building one");
            }
        }
        PrecompiledHeader {
            root: cache_root.join("pch"),
            sandbox_path: sandbox_path.to_string(),
            ready,
        }
    }

    /// The include directory to pass with `-I`, if the header is built. Never waits.
    pub fn ready_dir(&self) -> Option<&Path> {
        self.ready.get().and_then(|dir| dir.as_deref())
    }

    /// Builds the header (once; concurrent callers wait for the same build).
    pub async fn ensure_built(&self, gxx_version: &str) -> Option<&Path> {
        self.ready
            .get_or_init(|| async {
                let started = Instant::now();
                match self.build(gxx_version).await {
                    Ok(dir) => {
                        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, dir = %dir.display(), "C++ precompiled header ready");
                        Some(dir)
                    }
                    Err(err) => {
                        tracing::warn!(%err, "C++ precompiled header unavailable; compiling without it");
                        None
                    }
                }
            })
            .await
            .as_deref()
    }

    async fn build(&self, gxx_version: &str) -> std::io::Result<PathBuf> {
        let flags = CPP_FLAGS.join(" ");
        let key = cache_key(&[gxx_version.as_bytes(), flags.as_bytes()]);
        let dir = self.root.join(&key[..16]);
        let gch = dir.join("bits/stdc++.h.gch");
        if gch.is_file() {
            return Ok(dir);
        }
        let header = self.locate_header().await?;
        std::fs::create_dir_all(&self.root)?;
        set_mode(&self.root, 0o755)?;
        // A unique staging name: several servers (or test apps) may build at once.
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&self.root)?
            .keep();
        std::fs::create_dir_all(staging.join("bits"))?;
        // GCC looks for `bits/stdc++.h.gch` beside a `bits/stdc++.h` in each include
        // directory; the copy is what it reads when the .gch cannot be used.
        std::fs::copy(&header, staging.join("bits/stdc++.h"))?;
        let status = tokio::process::Command::new("g++")
            .args(CPP_FLAGS)
            .args([
                "-x",
                "c++-header",
                "bits/stdc++.h",
                "-o",
                "bits/stdc++.h.gch",
            ])
            .current_dir(&staging)
            .env_clear()
            .env("PATH", &self.sandbox_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(120), status)
            .await
            .map_err(|_| std::io::Error::other("precompiling bits/stdc++.h timed out"))??;
        if !output.status.success() {
            let _ = remove_tree(&staging);
            return Err(std::io::Error::other(format!(
                "g++ failed to precompile bits/stdc++.h: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        set_mode(&staging.join("bits/stdc++.h"), 0o444)?;
        set_mode(&staging.join("bits/stdc++.h.gch"), 0o444)?;
        set_mode(&staging.join("bits"), 0o555)?;
        set_mode(&staging, 0o555)?;
        if std::fs::rename(&staging, &dir).is_err() {
            // Another server process published it first.
            let _ = remove_tree(&staging);
        }
        Ok(dir)
    }

    /// Asks g++ where `bits/stdc++.h` is, via the dependency list of a one-line file.
    async fn locate_header(&self) -> std::io::Result<PathBuf> {
        let mut child = tokio::process::Command::new("g++")
            .args(CPP_FLAGS)
            .args(["-x", "c++", "-M", "-"])
            .env_clear()
            .env("PATH", &self.sandbox_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        {
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().expect("piped");
            stdin.write_all(b"#include <bits/stdc++.h>\n").await?;
        }
        let output = child.wait_with_output().await?;
        let deps = String::from_utf8_lossy(&output.stdout);
        deps.split_whitespace()
            .find(|word| word.ends_with("bits/stdc++.h"))
            .map(PathBuf::from)
            .ok_or_else(|| std::io::Error::other("g++ does not ship bits/stdc++.h"))
    }
}
