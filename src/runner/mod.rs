//! The program runner: admission, the job lifecycle (prepare → compile → run →
//! clean up) and the structured result.

pub mod cache;
pub mod languages;
pub mod namespaces;
pub mod pch;
pub mod plan;
pub mod process;
pub mod sandbox;
pub mod toolchains;
pub mod waiting;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use crate::config::{Config, Limits};
use cache::{cache_key, remove_tree, CachedBuild, CompileCache};
use languages::{Language, LanguageId};
use pch::PrecompiledHeader;
use plan::{PlanContext, BUILD_DIR};
use process::{run_process, ProcessOutcome, ProcessSpec, Shutdown, StdinMode};
use sandbox::{set_mode, Sandbox, SandboxLease, SandboxMode};
use toolchains::Toolchains;

/// Why a run could not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    LanguageUnavailable(String),
    #[error("the server is busy running other programs; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("runner failure: {0}")]
    Internal(#[from] std::io::Error),
}

/// A file written beside the program's entry file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// A relative path checked by the API layer (no `..`, not absolute).
    pub name: String,
    pub content: Vec<u8>,
}

/// One program to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub language: &'static Language,
    /// The entry file's content.
    pub code: String,
    /// The entry file's name; `None` uses the language's default.
    pub entry_name: Option<String>,
    /// More files written beside the entry file (sources compiled with it, data).
    pub files: Vec<SourceFile>,
    /// Command-line arguments of the program.
    pub args: Vec<String>,
    pub stdin: Vec<u8>,
    /// Limits for the run step; `None` uses the server's.
    pub run_limits: Option<Limits>,
    /// Limits for the compile step; `None` uses the server's.
    pub compile_limits: Option<Limits>,
    pub mode: InputMode,
    /// When the front door gives up (Lambda): every step's wall limit is cut to fit.
    pub deadline: Option<Instant>,
}

impl RunRequest {
    /// A single-file program with the server's limits.
    pub fn new(language: &'static Language, code: String, stdin: Vec<u8>, mode: InputMode) -> Self {
        RunRequest {
            language,
            code,
            entry_name: None,
            files: Vec::new(),
            args: Vec::new(),
            stdin,
            run_limits: None,
            compile_limits: None,
            mode,
            deadline: None,
        }
    }

    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }
}

/// How the program meets its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// All of stdin at once, then end-of-file (`/api/execute/once`).
    Batch,
    /// As in a terminal: prompts are flushed and the run stops as soon as the
    /// program waits for more input, unless `close_stdin` ends the input.
    Interactive { close_stdin: bool },
}

/// What the compile step did.
#[derive(Debug, Clone)]
pub struct CompileReport {
    pub success: bool,
    /// Compiler diagnostics (stdout and stderr, interleaved).
    pub output: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration: Duration,
    /// The build came from the compile cache; no compiler ran.
    pub cached: bool,
    /// The C++ precompiled header was offered to the compiler.
    pub used_pch: bool,
    /// The compiler process, when one ran (not on a cache hit).
    pub outcome: Option<ProcessOutcome>,
}

/// The result of one request.
#[derive(Debug, Clone)]
pub struct Execution {
    pub language: &'static Language,
    pub version: Option<String>,
    pub compile: Option<CompileReport>,
    /// `None` when compilation failed.
    pub run: Option<ProcessOutcome>,
    pub memory_limit_bytes: u64,
    /// The wall-clock limit the run actually had (cut by a deadline, if any).
    pub run_wall_limit: Duration,
}

impl Execution {
    /// Heuristic: the program died at or near its memory limit, or a runtime said so.
    pub fn memory_exceeded(&self) -> bool {
        let Some(run) = &self.run else { return false };
        if run.success() {
            return false;
        }
        let near_limit = run.peak_memory_kib * 1024 >= self.memory_limit_bytes / 10 * 9;
        let stderr = String::from_utf8_lossy(&run.stderr);
        let runtime_said_so = [
            "MemoryError",
            "std::bad_alloc",
            "java.lang.OutOfMemoryError",
            "JavaScript heap out of memory",
            "runtime: out of memory",
            "memory allocation of",
            "Cannot allocate memory",
        ]
        .iter()
        .any(|needle| stderr.contains(needle));
        near_limit || runtime_said_so
    }
}

/// The budget for one step: the configured limit, cut to what the deadline leaves.
pub fn budget(configured: Duration, deadline: Option<Instant>) -> Duration {
    match deadline {
        Some(deadline) => configured.min(deadline.saturating_duration_since(Instant::now())),
        None => configured,
    }
}

/// Bounded waiting room in front of the run slots.
#[derive(Debug)]
struct Admission {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue_capacity: usize,
    max_wait: Duration,
    concurrency: usize,
}

impl Admission {
    async fn admit(&self) -> Result<OwnedSemaphorePermit, RunError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let busy = RunError::Busy {
            retry_after_secs: 1 + (queued / self.concurrency.max(1)) as u64,
        };
        let result = if queued >= self.queue_capacity {
            Err(busy)
        } else {
            match tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => Ok(permit),
                Ok(Err(_closed)) => Err(RunError::ShuttingDown),
                Err(_elapsed) => Err(busy),
            }
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// Everything needed to run programs; shared by all requests.
#[derive(Debug)]
pub struct Runner {
    config: Arc<Config>,
    sandbox: Arc<Sandbox>,
    toolchains: OnceCell<Toolchains>,
    cache: CompileCache,
    pch: PrecompiledHeader,
    admission: Admission,
    shutdown: Shutdown,
}

/// A run's private working directory, removed (whatever it contains) on drop.
struct RunDir {
    path: PathBuf,
    /// A tmpfs mounted for this run (root): detached first.
    mounted: bool,
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(err) = namespaces::unmount_workspace(&self.path) {
                tracing::error!(%err, dir = %self.path.display(), "could not detach a run workspace");
            }
        }
        if let Err(err) = remove_tree(&self.path) {
            tracing::error!(%err, dir = %self.path.display(), "could not remove run directory");
        }
    }
}

impl Runner {
    pub fn new(config: Arc<Config>, shutdown: Shutdown) -> std::io::Result<Self> {
        // Before anything is created inside them (the uid lock files live in the cache).
        prepare_server_dir(&config.cache_dir)?;
        prepare_server_dir(&config.work_dir)?;
        let sandbox = Sandbox::init(
            config.sandbox_uid_base,
            config.sandbox_uid_count,
            &config.cache_dir,
            vec![config.cache_dir.clone(), config.work_dir.clone()],
            config.sandbox_namespaces,
        )?;
        if sandbox.mode() == SandboxMode::UidPool {
            namespaces::unmount_stale_workspaces(&config.work_dir);
        }
        let verify_cache = sandbox.mode() != SandboxMode::UidPool;
        let cache = CompileCache::open(&config.cache_dir, config.cache_max_bytes, verify_cache)?;
        let pch = PrecompiledHeader::new(
            &config.cache_dir,
            &config.sandbox_path,
            config.prebuilt_pch_dir.as_deref(),
        );
        let concurrency = config.max_concurrent_runs;
        Ok(Runner {
            admission: Admission {
                slots: Arc::new(Semaphore::new(concurrency)),
                waiting: AtomicUsize::new(0),
                queue_capacity: config.queue_capacity,
                max_wait: config.queue_wait,
                concurrency,
            },
            config,
            sandbox,
            toolchains: OnceCell::new(),
            cache,
            pch,
            shutdown,
        })
    }

    /// Detects toolchains (once) and, if configured, builds the precompiled header.
    pub async fn warm_up(&self) {
        let toolchains = self.toolchains().await;
        let gxx = toolchains.get(LanguageId::Cpp);
        if self.config.prebuild_pch && gxx.available {
            let version = gxx.version.clone().unwrap_or_default();
            self.pch.ensure_built(&version).await;
        }
    }

    pub async fn toolchains(&self) -> &Toolchains {
        self.toolchains
            .get_or_init(|| Toolchains::detect(&self.config.sandbox_path))
            .await
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The include directory of the precompiled header, once built.
    pub fn pch_dir(&self) -> Option<&Path> {
        self.pch.ready_dir()
    }

    /// Resolves a language name to an installed language, or explains what is available.
    pub async fn resolve_language(&self, name: &str) -> Result<&'static Language, RunError> {
        let toolchains = self.toolchains().await;
        let available = toolchains.available_names().join(", ");
        let Some(language) = Language::lookup(name) else {
            return Err(RunError::LanguageUnavailable(format!(
                "unknown language {name:?}; available: {available}"
            )));
        };
        let toolchain = toolchains.get(language.id);
        if !toolchain.available {
            return Err(RunError::LanguageUnavailable(format!(
                "{} is not available on this server ({}); available: {available}",
                language.display_name,
                toolchain.missing.as_deref().unwrap_or("toolchain missing")
            )));
        }
        Ok(language)
    }

    /// `execute` on its own task: a client that disconnects (dropping the request
    /// future) must not abort a run half-way; cleanup is simpler to reason about
    /// for a run that always completes.
    pub async fn execute_detached(
        self: &Arc<Self>,
        request: RunRequest,
    ) -> Result<Execution, RunError> {
        let runner = self.clone();
        tokio::spawn(async move { runner.execute(request).await })
            .await
            .map_err(|join| RunError::Internal(std::io::Error::other(join)))?
    }

    /// Runs one program: waits for a slot, compiles (or reuses the cache), runs.
    pub async fn execute(&self, request: RunRequest) -> Result<Execution, RunError> {
        if self.shutdown.is_triggered() {
            return Err(RunError::ShuttingDown);
        }
        let _permit = self.admission.admit().await?;
        let lease = self.sandbox.lease()?;
        let run_dir = self.create_run_dir(&lease)?;
        let toolchains = self.toolchains().await;
        let language = request.language;
        let version = toolchains.get(language.id).version.clone();
        let ctx = PlanContext {
            run_dir: &run_dir.path,
            sandbox_path: &self.config.sandbox_path,
            pch_dir: self.pch_dir(),
            node_type_roots: toolchains.node_type_roots.as_deref(),
            interactive: request.mode != InputMode::Batch,
        };
        let source_file = request
            .entry_name
            .clone()
            .unwrap_or_else(|| language.source_file_name(&request.code));
        // Every file is in place before anything runs, data files included.
        write_source(
            &run_dir.path,
            &source_file,
            request.code.as_bytes(),
            lease.uid(),
        )?;
        for file in &request.files {
            write_source(&run_dir.path, &file.name, &file.content, lease.uid())?;
        }
        let mut run_limits = request
            .run_limits
            .clone()
            .unwrap_or_else(|| self.config.run_limits.clone());
        let memory_limit_bytes = run_limits.memory_bytes;
        let configured_wall = run_limits.wall_time;
        run_limits.memory_bytes = plan::data_limit_for(language, run_limits.memory_bytes);

        let mut compile = None;
        let build_dir: BuildLocation = if language.compiled {
            let (report, build) = self
                .compile(&request, &source_file, version.as_deref(), &ctx, &lease)
                .await?;
            let failed = !report.success;
            compile = Some(report);
            match build {
                Some(build) if !failed => build,
                _ => {
                    return Ok(Execution {
                        language,
                        version,
                        compile,
                        run: None,
                        memory_limit_bytes,
                        run_wall_limit: configured_wall,
                    })
                }
            }
        } else {
            BuildLocation::None(run_dir.path.join(BUILD_DIR))
        };

        if ctx.interactive && matches!(language.id, LanguageId::JavaScript | LanguageId::TypeScript)
        {
            write_source(
                &run_dir.path,
                plan::NODE_PRELOAD_FILE,
                plan::NODE_INTERACTIVE_PRELOAD.as_bytes(),
                lease.uid(),
            )?;
        }
        // Whatever compiling took comes out of the time the deadline leaves.
        run_limits.wall_time = budget(configured_wall, request.deadline);
        let run_wall_limit = run_limits.wall_time;
        let mut command = plan::run_command(
            language,
            &source_file,
            &request.code,
            build_dir.path(),
            &run_limits,
            &ctx,
        );
        command.argv.extend(request.args.iter().cloned());
        let spec = ProcessSpec {
            argv: command.argv,
            env: command.env,
            cwd: run_dir.path.clone(),
            stdin: request.stdin,
            stdin_mode: match request.mode {
                InputMode::Interactive { close_stdin: false } => StdinMode::StopWhenWaiting,
                _ => StdinMode::Close,
            },
            limits: run_limits,
        };
        let outcome = run_process(&spec, &lease, &self.shutdown).await?;
        drop(build_dir);
        drop(run_dir);
        drop(lease);
        Ok(Execution {
            language,
            version,
            compile,
            run: Some(outcome),
            memory_limit_bytes,
            run_wall_limit,
        })
    }

    async fn compile(
        &self,
        request: &RunRequest,
        source_file: &str,
        version: Option<&str>,
        ctx: &PlanContext<'_>,
        lease: &SandboxLease,
    ) -> Result<(CompileReport, Option<BuildLocation>), RunError> {
        let language = request.language;
        let others: Vec<&str> = request.files.iter().map(|f| f.name.as_str()).collect();
        let command = plan::compile_command(language, source_file, &others, ctx)
            .expect("compiled languages have a compile command");
        // The PCH include path is an optimisation that does not change the output,
        // so it stays out of the key (a build without it is just as good).
        let flags: Vec<&str> = command
            .argv
            .iter()
            .filter(|arg| {
                ctx.pch_dir
                    .is_none_or(|dir| arg.as_str() != dir.to_str().unwrap_or(""))
            })
            .map(String::as_str)
            .collect();
        let key = cache_key(&[
            language.key.as_bytes(),
            version.unwrap_or("").as_bytes(),
            flags.join("\u{1f}").as_bytes(),
            source_file.as_bytes(),
            request.code.as_bytes(),
            &files_digest(&request.files),
        ]);
        let started = Instant::now();
        let used_pch = ctx.pch_dir.is_some() && request.code.contains("bits/stdc++.h");
        let hit = |build: Arc<CachedBuild>| {
            (
                CompileReport {
                    success: true,
                    output: String::new(),
                    exit_code: Some(0),
                    timed_out: false,
                    duration: started.elapsed(),
                    cached: true,
                    used_pch: false,
                    outcome: None,
                },
                Some(BuildLocation::Cached(build)),
            )
        };
        if let Some(build) = self.cache.get(&key) {
            return Ok(hit(build));
        }
        let lock = self.cache.compile_lock(&key);
        let _compiling = lock.lock().await;
        if let Some(build) = self.cache.get(&key) {
            return Ok(hit(build));
        }
        let build_dir = ctx.run_dir.join(BUILD_DIR);
        std::fs::create_dir_all(&build_dir)?;
        chown_to(&build_dir, lease.uid())?;
        let spec = ProcessSpec {
            argv: command.argv,
            env: command.env,
            cwd: ctx.run_dir.to_path_buf(),
            stdin: Vec::new(),
            stdin_mode: StdinMode::Close,
            limits: {
                let limits = request
                    .compile_limits
                    .clone()
                    .unwrap_or_else(|| self.config.compile_limits.clone());
                Limits {
                    wall_time: budget(limits.wall_time, request.deadline),
                    ..limits
                }
            },
        };
        let outcome = run_process(&spec, lease, &self.shutdown).await?;
        let success = outcome.success();
        let mut output = String::from_utf8_lossy(&outcome.combined).into_owned();
        if outcome.timed_out {
            output.push_str(&format!(
                "\n[sr-runner] compilation stopped after the {} s compile time limit\n",
                self.config.compile_limits.wall_time.as_secs()
            ));
        }
        let report = CompileReport {
            success,
            output,
            exit_code: outcome.exit_code,
            timed_out: outcome.timed_out,
            duration: started.elapsed(),
            cached: false,
            used_pch,
            outcome: Some(outcome),
        };
        if !success {
            return Ok((report, None));
        }
        let location = match self.cache.insert(&key, &build_dir) {
            Ok(build) => BuildLocation::Cached(build),
            Err(err) => {
                // Still runnable from the run directory; just not cached.
                tracing::warn!(%err, language = language.key, "could not cache build output");
                BuildLocation::None(build_dir)
            }
        };
        Ok((report, Some(location)))
    }

    fn create_run_dir(&self, lease: &SandboxLease) -> std::io::Result<RunDir> {
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&self.config.work_dir)?;
        let path = dir.keep();
        let mut run_dir = RunDir {
            path,
            mounted: false,
        };
        if let (Some(uid), true) = (lease.uid(), self.sandbox.workspace_tmpfs()) {
            namespaces::mount_workspace(
                &run_dir.path,
                uid,
                self.config.workspace_bytes,
                self.config.workspace_inodes,
            )?;
            run_dir.mounted = true;
        }
        std::fs::create_dir(run_dir.path.join("tmp"))?;
        chown_to(&run_dir.path.join("tmp"), lease.uid())?;
        chown_to(&run_dir.path, lease.uid())?;
        set_mode(&run_dir.path, 0o700)?;
        Ok(run_dir)
    }
}

/// Where the build output lives for the run step.
enum BuildLocation {
    /// A cache entry (held so it is not evicted during the run).
    Cached(Arc<CachedBuild>),
    /// Not cached: in the run directory, or no build at all.
    None(PathBuf),
}

impl BuildLocation {
    fn path(&self) -> &Path {
        match self {
            BuildLocation::Cached(build) => &build.dir,
            BuildLocation::None(path) => path,
        }
    }
}

/// Writes a file of the request into the run directory. The name was checked to
/// be relative and free of `..`; parent directories are created, and nothing is
/// ever written through a symlink.
fn write_source(
    run_dir: &Path,
    name: &str,
    content: &[u8],
    uid: Option<u32>,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = run_dir.join(name);
    if let Some(parent) = path.parent() {
        let mut dir = run_dir.to_path_buf();
        let relative = parent.strip_prefix(run_dir).unwrap_or(Path::new(""));
        for part in relative.components() {
            dir.push(part);
            match std::fs::create_dir(&dir) {
                Ok(()) => chown_to(&dir, uid)?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o644)
        .open(&path)?;
    file.write_all(content)?;
    chown_to(&path, uid)
}

/// One digest over the extra files' names and contents, for the cache key.
fn files_digest(files: &[SourceFile]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for file in files {
        parts.push(file.name.as_bytes());
        parts.push(&file.content);
    }
    cache_key(&parts).into_bytes()
}

fn chown_to(path: &Path, uid: Option<u32>) -> std::io::Result<()> {
    match uid {
        Some(uid) => std::os::unix::fs::lchown(path, Some(uid), Some(uid)),
        None => Ok(()),
    }
}

/// The cache and work roots belong to the server: refuse a symlink planted in
/// their place, take ownership, and let sandbox uids traverse but not list them.
fn prepare_server_dir(path: &Path) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(std::io::Error::other(format!(
                "{} exists and is not a directory",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(path)?;
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::lchown(path, Some(0), Some(0))?;
    }
    set_mode(path, 0o711)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_budget_is_the_smaller_of_limit_and_time_left() {
        let soon = Instant::now() + Duration::from_secs(3);
        assert!(budget(Duration::from_secs(30), Some(soon)) <= Duration::from_secs(3));
        assert_eq!(
            budget(Duration::from_secs(1), Some(soon)),
            Duration::from_secs(1)
        );
        assert_eq!(
            budget(Duration::from_secs(30), None),
            Duration::from_secs(30)
        );
        let past = Instant::now() - Duration::from_secs(1);
        assert_eq!(budget(Duration::from_secs(30), Some(past)), Duration::ZERO);
    }
}
