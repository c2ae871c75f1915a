//! Building the application and serving it locally.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{app, AppState};
use crate::config::Config;
use crate::runner::process::Shutdown;
use crate::runner::Runner;
use crate::sessions::store::dynamo::{build_client, DynamoStore};
use crate::sessions::store::memory::MemoryStore;
use crate::sessions::store::SessionStore;
use crate::sessions::{SessionLimits, SessionService};

/// A built application: state plus the shutdown switch for its programs.
pub struct Application {
    pub state: AppState,
    shutdown_tx: watch::Sender<bool>,
}

impl Application {
    /// Creates the runner (sandbox, cache, work directories), the session store
    /// (DynamoDB when `TABLE_NAME` is set, else the embedded store), and starts
    /// warming up (toolchain detection, precompiled header) in the background.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let store = session_store(&config).await;
        Self::build_with_store(config, store)
    }

    /// As `build`, with a given session store (tests use several).
    pub fn build_with_store(config: Config, store: Arc<dyn SessionStore>) -> std::io::Result<Self> {
        let config = Arc::new(config);
        let (shutdown_tx, shutdown) = Shutdown::new();
        let runner = Arc::new(Runner::new(config.clone(), shutdown)?);
        let warm = runner.clone();
        tokio::spawn(async move { warm.warm_up().await });
        let limits = SessionLimits {
            ttl_secs: config.session_ttl_secs as i64,
            max_code_bytes: config.max_session_code_bytes.min(config.max_code_bytes),
            max_input_bytes: config.max_session_input_bytes,
        };
        let sessions = Arc::new(SessionService::new(store, runner.clone(), limits));
        Ok(Application {
            state: AppState {
                config,
                runner,
                sessions,
            },
            shutdown_tx,
        })
    }

    pub fn router(&self) -> axum::Router {
        app(self.state.clone())
    }

    /// Stops every running program; their requests answer at once.
    pub fn stop_programs(&self) {
        let _ = self.shutdown_tx.send(true);
    }

    /// Serves on `listener` until `signal` completes, then kills running programs
    /// and lets in-flight requests finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let mut router = self.router();
        if listener.local_addr()?.ip().is_loopback() {
            router = router.layer(axum::middleware::from_fn(loopback_host_only));
        }
        let shutdown_tx = self.shutdown_tx.clone();
        let on_signal = async move {
            signal.await;
            tracing::info!("shutting down: stopping running programs");
            let _ = shutdown_tx.send(true);
        };
        axum::serve(listener, router)
            .with_graceful_shutdown(on_signal)
            .await
    }
}

/// On a loopback listener, only requests addressed to a loopback name are served.
/// A web page that rebinds its own DNS name to 127.0.0.1 (DNS rebinding) reaches
/// the port, but its requests carry its own name in `Host`, so they are refused.
async fn loopback_host_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    match host {
        Some(host) if !is_loopback_host(host) => crate::error::AppError::MisdirectedRequest(
            format!("this server only answers requests addressed to localhost, not {host:?}"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        })
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The configured session store: DynamoDB when `TABLE_NAME` is set.
pub async fn session_store(config: &Config) -> Arc<dyn SessionStore> {
    match &config.table_name {
        Some(table) => {
            let client = build_client(config.dynamodb_endpoint.as_deref()).await;
            tracing::info!(%table, endpoint = ?config.dynamodb_endpoint, "sessions in DynamoDB");
            Arc::new(DynamoStore::new(client, table, config.max_sessions))
        }
        None => {
            tracing::info!("sessions in the embedded in-memory store (TABLE_NAME unset)");
            Arc::new(MemoryStore::new(config.max_sessions))
        }
    }
}

/// Creates the DynamoDB table named by `TABLE_NAME` (for local development
/// against DynamoDB Local: `sr-runner create-table`).
pub async fn create_table(config: &Config) -> Result<(), String> {
    let table = config
        .table_name
        .as_deref()
        .ok_or("set TABLE_NAME (and DYNAMODB_ENDPOINT for DynamoDB Local)")?;
    let client = build_client(config.dynamodb_endpoint.as_deref()).await;
    DynamoStore::new(client, table, config.max_sessions)
        .create_table(true)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(%table, "table ready (TTL on expiresAt)");
    Ok(())
}

/// Binds the configured address and serves until SIGINT or SIGTERM.
pub async fn run_local(config: Config) -> std::io::Result<()> {
    let listen: SocketAddr = config.listen;
    let application = Application::build(config).await?;
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, "sr-runner listening on http://{}", listener.local_addr()?);
    application.serve(listener, termination_signal()).await
}

/// Completes on SIGINT (Ctrl+C) or SIGTERM.
pub async fn termination_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "localhost",
            "localhost:3001",
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:3001",
            "LOCALHOST:1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:3001",
            "10.0.0.1:3001",
            "localhost.evil.example",
            "[::2]:80",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
