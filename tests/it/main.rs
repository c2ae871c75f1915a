//! Integration tests through the real router on a random port.

mod api;
mod common;
mod hostile;
mod languages;
