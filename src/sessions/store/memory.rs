//! The embedded store: a mutex-guarded map with exactly the DynamoDB store's
//! semantics (slots as leases, expiry on read, versioned writes). Used when no
//! table is configured, so the local server needs no AWS at all.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{SessionStore, StoreError};
use crate::sessions::model::{Session, SessionId};

#[derive(Debug, Clone)]
struct SlotLease {
    owner: SessionId,
    expires_at: i64,
}

#[derive(Debug, Default)]
struct Tables {
    sessions: HashMap<SessionId, Session>,
    slots: Vec<Option<SlotLease>>,
}

#[derive(Debug)]
pub struct MemoryStore {
    max_sessions: u32,
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new(max_sessions: u32) -> Self {
        MemoryStore {
            max_sessions,
            tables: Mutex::new(Tables {
                sessions: HashMap::new(),
                slots: vec![None; max_sessions as usize],
            }),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().expect("memory store lock")
    }
}

fn slot_is_free(slot: &Option<SlotLease>, now: i64) -> bool {
    slot.as_ref().is_none_or(|lease| lease.expires_at <= now)
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, session: &mut Session, now: i64) -> Result<(), StoreError> {
        let mut tables = self.tables();
        // Drop expired sessions here, since nothing else deletes them.
        tables.sessions.retain(|_, s| !s.is_expired(now));
        let Some(free) = tables.slots.iter().position(|s| slot_is_free(s, now)) else {
            return Err(StoreError::Full {
                max_sessions: self.max_sessions,
            });
        };
        if tables.sessions.contains_key(&session.id) {
            return Err(StoreError::Conflict);
        }
        session.slot = free as u32;
        session.version = 1;
        tables.slots[free] = Some(SlotLease {
            owner: session.id.clone(),
            expires_at: session.expires_at,
        });
        tables.sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    async fn load(&self, id: &SessionId, now: i64) -> Result<Option<Session>, StoreError> {
        Ok(self
            .tables()
            .sessions
            .get(id)
            .filter(|s| !s.is_expired(now))
            .cloned())
    }

    async fn save(&self, session: &Session, now: i64) -> Result<(), StoreError> {
        let mut tables = self.tables();
        let current = tables
            .sessions
            .get(&session.id)
            .filter(|s| !s.is_expired(now))
            .ok_or(StoreError::Conflict)?;
        if current.version + 1 != session.version {
            return Err(StoreError::Conflict);
        }
        let slot = session.slot as usize;
        let owns_slot = tables
            .slots
            .get(slot)
            .and_then(|s| s.as_ref())
            .is_some_and(|lease| lease.owner == session.id);
        if owns_slot {
            tables.slots[slot] = session.state.holds_slot().then(|| SlotLease {
                owner: session.id.clone(),
                expires_at: session.expires_at,
            });
        } else if session.state.holds_slot() {
            // The lease lapsed and another session took the slot.
            return Err(StoreError::Conflict);
        }
        tables.sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    async fn active_sessions(&self, now: i64) -> Result<u32, StoreError> {
        Ok(self
            .tables()
            .slots
            .iter()
            .filter(|s| !slot_is_free(s, now))
            .count() as u32)
    }

    fn max_sessions(&self) -> u32 {
        self.max_sessions
    }
}
