//! Session persistence: one trait, two implementations with the same semantics.
//!
//! * A session holds one of `max_sessions` slots while it waits for input. Slots
//!   are leases: a slot whose `expires_at` has passed is free, whatever the table
//!   still holds, so a crashed invocation's slot frees itself.
//! * Expiry never relies on deletion (DynamoDB deletes expired items lazily):
//!   every read treats `expires_at <= now` as absent and every conditional write
//!   checks it.
//! * Every write of a session is conditional on its previous `version`.

pub mod dynamo;
pub mod memory;

use async_trait::async_trait;

use super::model::{Session, SessionId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Every slot is held by an unexpired session.
    #[error("all {max_sessions} session slots are in use")]
    Full { max_sessions: u32 },
    /// The session changed (or expired) since it was read.
    #[error("the session was changed by another request")]
    Conflict,
    /// The store cannot be reached or is throttling beyond retries.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be understood.
    #[error("corrupt session record: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Takes a free slot and stores `session` (version 1) holding it, atomically:
    /// either both are written or neither. Sets `session.slot`.
    async fn create(&self, session: &mut Session, now: i64) -> Result<(), StoreError>;

    /// The session, unless it does not exist or has expired.
    async fn load(&self, id: &SessionId, now: i64) -> Result<Option<Session>, StoreError>;

    /// Writes `session` if the stored copy has version `session.version - 1` and
    /// has not expired. A waiting session's slot lease is extended to the
    /// session's new expiry; a finished or killed session's slot is released.
    async fn save(&self, session: &Session, now: i64) -> Result<(), StoreError>;

    /// Slots held by unexpired sessions.
    async fn active_sessions(&self, now: i64) -> Result<u32, StoreError>;

    /// The configured slot count.
    fn max_sessions(&self) -> u32;
}

/// The current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
