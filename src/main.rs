use sr_runner::{server, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        // CloudWatch shows escape codes verbatim.
        .with_ansi(!sr_runner::lambda::in_lambda())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            tracing::error!(%err, "refusing to start");
            return std::process::ExitCode::from(2);
        }
    };
    if std::env::args().nth(1).as_deref() == Some("create-table") {
        return match server::create_table(&config).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(%err, "could not create the table");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if sr_runner::lambda::in_lambda() {
        return match sr_runner::lambda::run(config).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(%err, "Lambda runtime failed");
                std::process::ExitCode::FAILURE
            }
        };
    }
    match server::run_local(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "server failed");
            std::process::ExitCode::FAILURE
        }
    }
}
