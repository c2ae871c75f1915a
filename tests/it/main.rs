//! Integration tests through the real router on a random port.

mod api;
mod common;
mod dynamo_local;
mod exploits;
mod judge;
mod lambda_events;
mod languages;
mod piston;
mod sessions;
mod store;
mod unprivileged;
