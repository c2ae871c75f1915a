//! Building the application and serving it locally.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{app, AppState};
use crate::config::Config;
use crate::runner::process::Shutdown;
use crate::runner::Runner;

/// A built application: state plus the shutdown switch for its programs.
pub struct Application {
    pub state: AppState,
    shutdown_tx: watch::Sender<bool>,
}

impl Application {
    /// Creates the runner (sandbox, cache, work directories) and starts warming
    /// up (toolchain detection, precompiled header) in the background.
    pub fn build(config: Config) -> std::io::Result<Self> {
        let config = Arc::new(config);
        let (shutdown_tx, shutdown) = Shutdown::new();
        let runner = Arc::new(Runner::new(config.clone(), shutdown)?);
        let warm = runner.clone();
        tokio::spawn(async move { warm.warm_up().await });
        Ok(Application {
            state: AppState { config, runner },
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
        let router = self.router();
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

/// Binds the configured address and serves until SIGINT or SIGTERM.
pub async fn run_local(config: Config) -> std::io::Result<()> {
    let listen: SocketAddr = config.listen;
    let application = Application::build(config)?;
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
