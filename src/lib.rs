//! sr-runner: the code-execution backend of SR Compiler.
//!
//! The library holds everything; `main.rs` only wires it up. [`api::app`] builds
//! the one router that both the local server ([`server`]) and the Lambda entry
//! point serve.

pub mod api;
pub mod config;
pub mod error;
pub mod judge;
pub mod lambda;
pub mod runner;
pub mod server;
pub mod sessions;

pub use api::{app, AppState};
pub use config::Config;
