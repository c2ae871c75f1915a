//! Typed configuration, read once from the environment at start-up.
//!
//! Every knob has a default that works on a developer machine; `Config::from_env`
//! rejects malformed values instead of silently falling back, so a typo in a
//! deployment is a start-up error, not a surprise in production.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {name}={value:?}: {reason}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    reason: String,
}

/// Resource limits applied to every user program (compile steps get their own copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock limit of one process.
    pub wall_time: Duration,
    /// Address-space data limit (`RLIMIT_DATA`), in bytes.
    pub memory_bytes: u64,
    /// Processes and threads (`RLIMIT_NPROC`).
    pub processes: u64,
    /// Largest file the program may write (`RLIMIT_FSIZE`), in bytes.
    pub file_size_bytes: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Bytes captured from stdout and stderr, each; the program is stopped past it.
    pub output_bytes: usize,
}

impl Limits {
    /// CPU seconds (`RLIMIT_CPU`): one more than the wall limit, so the wall clock
    /// normally decides and the CPU limit is a backstop for a stuck watchdog.
    pub fn cpu_seconds(&self) -> u64 {
        self.wall_time.as_secs() + 1
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub cors_allow_origin: String,
    pub run_limits: Limits,
    pub compile_limits: Limits,
    pub max_code_bytes: usize,
    pub max_stdin_bytes: usize,
    pub max_concurrent_runs: usize,
    pub queue_capacity: usize,
    pub queue_wait: Duration,
    /// Root of the compile cache and the precompiled header.
    pub cache_dir: PathBuf,
    pub cache_max_bytes: u64,
    /// Where per-run working directories are created.
    pub work_dir: PathBuf,
    /// First uid of the sandbox pool (used only when the server runs as root).
    pub sandbox_uid_base: u32,
    /// Size of the sandbox uid pool.
    pub sandbox_uid_count: u32,
    /// `PATH` given to compilers and programs; toolchains are looked up on it.
    pub sandbox_path: String,
    /// Build the C++ precompiled header in the background at start-up.
    pub prebuild_pch: bool,
    /// A directory holding a ready `bits/stdc++.h.gch` (built into the container
    /// image with the same flags), used instead of building one.
    pub prebuilt_pch_dir: Option<PathBuf>,
    /// Give runs network, IPC and mount namespaces when the server is root.
    pub sandbox_namespaces: bool,
    /// Size of a run's working directory (a tmpfs when the server is root).
    pub workspace_bytes: u64,
    /// Files and directories a run may create in it.
    pub workspace_inodes: u64,
    /// DynamoDB table of the sessions; the embedded store is used when unset.
    pub table_name: Option<String>,
    /// Endpoint override (DynamoDB Local).
    pub dynamodb_endpoint: Option<String>,
    /// Sessions expire this long after their last activity.
    pub session_ttl_secs: u64,
    /// Interactive sessions active at once, across all instances.
    pub max_sessions: u32,
    /// Code kept in a session record.
    pub max_session_code_bytes: usize,
    /// All inputs of one session together.
    pub max_session_input_bytes: usize,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Builds a configuration from explicit variables (tests use this).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = Env(vars);
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let host: IpAddr = env.parse("HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?;
        let port: u16 = env.parse("PORT", 3001)?;
        let output_bytes: usize = env.parse("MAX_OUTPUT_BYTES", 64 * 1024)?;
        let memory_mb: u64 = env.parse("MEMORY_LIMIT_MB", 512)?;
        let processes: u64 = env.parse("MAX_PROCESSES", 256)?;
        let file_size_mb: u64 = env.parse("MAX_FILE_SIZE_MB", 64)?;
        let open_files: u64 = env.parse("MAX_OPEN_FILES", 256)?;
        let run_limits = Limits {
            wall_time: Duration::from_secs(env.parse_nonzero("RUN_TIMEOUT_SECS", 30)?),
            memory_bytes: memory_mb * 1024 * 1024,
            processes,
            file_size_bytes: file_size_mb * 1024 * 1024,
            open_files,
            output_bytes,
        };
        // Compilers (javac and tsc are JVM/Node programs, rustc is hungry) need more
        // room than the programs they build; the output cap bounds diagnostics.
        let compile_memory_mb: u64 = env.parse("COMPILE_MEMORY_LIMIT_MB", 2048)?;
        let compile_limits = Limits {
            wall_time: Duration::from_secs(env.parse_nonzero("COMPILE_TIMEOUT_SECS", 20)?),
            memory_bytes: compile_memory_mb * 1024 * 1024,
            processes: processes.max(256),
            file_size_bytes: 256 * 1024 * 1024,
            open_files: open_files.max(1024),
            output_bytes,
        };
        let max_concurrent_runs = env.parse_nonzero("MAX_CONCURRENT_RUNS", 2 * cpus)?;
        let default_cache = std::env::temp_dir().join("sr-runner-cache");
        let default_work = std::env::temp_dir().join("sr-runner-runs");
        Ok(Config {
            listen: SocketAddr::new(host, port),
            cors_allow_origin: env.string("CORS_ALLOW_ORIGIN", "*"),
            run_limits,
            compile_limits,
            max_code_bytes: env.parse("MAX_CODE_BYTES", 256 * 1024)?,
            max_stdin_bytes: env.parse("MAX_STDIN_BYTES", 1024 * 1024)?,
            max_concurrent_runs,
            queue_capacity: env.parse("QUEUE_CAPACITY", 64)?,
            queue_wait: Duration::from_secs(env.parse("QUEUE_WAIT_SECS", 10)?),
            cache_dir: env.path("CACHE_DIR", default_cache),
            cache_max_bytes: env.parse::<u64>("CACHE_MAX_MB", 512)? * 1024 * 1024,
            work_dir: env.path("WORK_DIR", default_work),
            sandbox_uid_base: env.parse("SANDBOX_UID_BASE", 61000)?,
            sandbox_uid_count: env.parse_nonzero("SANDBOX_UID_COUNT", 256)?,
            sandbox_path: env.string("SANDBOX_PATH", "/usr/local/bin:/usr/bin:/bin"),
            prebuild_pch: env.parse("PREBUILD_PCH", true)?,
            prebuilt_pch_dir: env.raw("PREBUILT_PCH_DIR").map(PathBuf::from),
            sandbox_namespaces: env.parse("SANDBOX_NAMESPACES", true)?,
            workspace_bytes: env.parse::<u64>("WORKSPACE_SIZE_MB", 256)? * 1024 * 1024,
            workspace_inodes: env.parse("WORKSPACE_INODES", 20_000)?,
            table_name: env.raw("TABLE_NAME").map(str::to_string),
            dynamodb_endpoint: env.raw("DYNAMODB_ENDPOINT").map(str::to_string),
            session_ttl_secs: env.parse_nonzero("SESSION_TTL_SECS", 300)?,
            max_sessions: env.parse_nonzero("MAX_SESSIONS", 20)?,
            // A session item holds the code, the inputs and the transcript (capped
            // by MAX_OUTPUT_BYTES); these bounds keep it far below DynamoDB's 400 KB.
            max_session_code_bytes: env.parse("MAX_SESSION_CODE_BYTES", 64 * 1024)?,
            max_session_input_bytes: env.parse("MAX_SESSION_INPUT_BYTES", 64 * 1024)?,
        })
    }
}

struct Env(HashMap<String, String>);

impl Env {
    fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_string()
    }

    fn path(&self, name: &str, default: PathBuf) -> PathBuf {
        self.raw(name).map(PathBuf::from).unwrap_or(default)
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|e: T::Err| ConfigError {
                name,
                value: value.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    fn parse_nonzero<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialEq + Default,
        T::Err: std::fmt::Display,
    {
        let value = self.parse(name, default)?;
        if value == T::default() {
            return Err(ConfigError {
                name,
                value: "0".into(),
                reason: "must be greater than zero".into(),
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let config = Config::from_vars(HashMap::new()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3001");
        assert_eq!(config.run_limits.wall_time, Duration::from_secs(30));
        assert_eq!(config.compile_limits.wall_time, Duration::from_secs(20));
        assert_eq!(config.run_limits.output_bytes, 64 * 1024);
        assert_eq!(config.max_code_bytes, 256 * 1024);
        assert_eq!(config.max_stdin_bytes, 1024 * 1024);
        assert_eq!(config.cors_allow_origin, "*");
        assert_eq!(config.max_sessions, 20);
        assert_eq!(config.session_ttl_secs, 300);
        assert!(config.table_name.is_none());
    }

    #[test]
    fn a_malformed_value_is_an_error_naming_the_variable() {
        let err = Config::from_vars(vars(&[("PORT", "eighty")])).unwrap_err();
        assert!(err.to_string().contains("PORT"), "{err}");
    }

    #[test]
    fn a_zero_timeout_is_rejected() {
        assert!(Config::from_vars(vars(&[("RUN_TIMEOUT_SECS", "0")])).is_err());
    }

    #[test]
    fn overrides_are_applied() {
        let config = Config::from_vars(vars(&[
            ("HOST", "0.0.0.0"),
            ("PORT", "8080"),
            ("RUN_TIMEOUT_SECS", "5"),
            ("MAX_OUTPUT_BYTES", "1000"),
        ]))
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(config.run_limits.wall_time, Duration::from_secs(5));
        assert_eq!(config.run_limits.output_bytes, 1000);
    }
}
