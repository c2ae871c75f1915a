//! One conformance suite, run against the memory store and DynamoDB Local.

use std::sync::Arc;

use sr_runner::sessions::model::{Session, SessionId, SessionState};
use sr_runner::sessions::store::memory::MemoryStore;
use sr_runner::sessions::store::{unix_now, SessionStore, StoreError};

use crate::dynamo_local;

const TTL: i64 = 300;

fn new_session(now: i64) -> Session {
    Session::new("python", "print(input())".into(), now, TTL)
}

/// Creates a session as of `now`.
async fn created(store: &dyn SessionStore, now: i64) -> Session {
    let mut session = new_session(now);
    store.create(&mut session, now).await.expect("create");
    session
}

async fn a_created_session_loads_back_unchanged(store: Arc<dyn SessionStore>) {
    let now = unix_now();
    let mut session = created(store.as_ref(), now).await;
    assert_eq!(session.version, 1);
    let loaded = store
        .load(&session.id, now)
        .await
        .unwrap()
        .expect("present");
    assert_eq!(loaded, session);
    // Unicode, empty strings and many inputs survive the round trip.
    session.inputs = vec!["héllo\n".into(), "\n".into(), "42\n".into()];
    session.transcript = "name? ✓ ".into();
    session.version = 2;
    store.save(&session, now).await.unwrap();
    assert_eq!(
        store.load(&session.id, now).await.unwrap().unwrap(),
        session
    );
    assert!(store
        .load(&SessionId::new_random(), now)
        .await
        .unwrap()
        .is_none());
}

async fn an_expired_session_is_absent_though_still_stored(store: Arc<dyn SessionStore>) {
    // Created 10 minutes ago with a 5-minute TTL: expired, whatever the table holds.
    let long_ago = unix_now() - 600;
    let session = created(store.as_ref(), long_ago).await;
    assert!(
        store
            .load(&session.id, long_ago + 1)
            .await
            .unwrap()
            .is_some(),
        "present while fresh"
    );
    let now = unix_now();
    assert!(
        store.load(&session.id, now).await.unwrap().is_none(),
        "expired is absent"
    );
    // Exactly at expiresAt counts as expired.
    assert!(store
        .load(&session.id, session.expires_at)
        .await
        .unwrap()
        .is_none());
    // And a write to it is refused.
    let mut stale = session.clone();
    stale.version = 2;
    assert!(matches!(
        store.save(&stale, now).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.active_sessions(now).await.unwrap(),
        0,
        "its slot is free"
    );
}

async fn the_slot_limit_holds_and_slots_come_back(store: Arc<dyn SessionStore>) {
    let now = unix_now();
    let max = store.max_sessions();
    let mut sessions = Vec::new();
    for _ in 0..max {
        sessions.push(created(store.as_ref(), now).await);
    }
    let mut slots: Vec<u32> = sessions.iter().map(|s| s.slot).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len() as u32, max, "each session holds its own slot");
    assert_eq!(store.active_sessions(now).await.unwrap(), max);
    let mut extra = new_session(now);
    assert!(matches!(
        store.create(&mut extra, now).await,
        Err(StoreError::Full { max_sessions }) if max_sessions == max
    ));
    // Finishing a session releases its slot.
    let mut finished = sessions.pop().unwrap();
    finished.state = SessionState::Finished;
    finished.version += 1;
    store.save(&finished, now).await.unwrap();
    assert_eq!(store.active_sessions(now).await.unwrap(), max - 1);
    let mut next = new_session(now);
    store
        .create(&mut next, now)
        .await
        .expect("a released slot is reusable");
    // Once every lease has expired, all slots are free again.
    let later = now + TTL + 1;
    assert_eq!(store.active_sessions(later).await.unwrap(), 0);
    for _ in 0..max {
        created(store.as_ref(), later).await;
    }
}

async fn activity_extends_the_lease(store: Arc<dyn SessionStore>) {
    let now = unix_now();
    let mut session = created(store.as_ref(), now).await;
    let later = now + TTL - 10;
    session.version += 1;
    session.last_activity_at = later;
    session.expires_at = later + TTL;
    store.save(&session, later).await.unwrap();
    // Past the original expiry, the session and its slot live on.
    let past_first_expiry = now + TTL + 5;
    assert!(store
        .load(&session.id, past_first_expiry)
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.active_sessions(past_first_expiry).await.unwrap(), 1);
}

async fn concurrent_writes_of_one_version_conflict(store: Arc<dyn SessionStore>) {
    let now = unix_now();
    let session = created(store.as_ref(), now).await;
    let mut first = session.clone();
    first.inputs.push("a\n".into());
    first.version = 2;
    let mut second = session.clone();
    second.inputs.push("b\n".into());
    second.version = 2;
    store.save(&first, now).await.unwrap();
    assert!(matches!(
        store.save(&second, now).await,
        Err(StoreError::Conflict)
    ));
    let stored = store.load(&session.id, now).await.unwrap().unwrap();
    assert_eq!(
        stored.inputs,
        vec!["a\n".to_string()],
        "the loser changed nothing"
    );
}

async fn killing_twice_is_harmless(store: Arc<dyn SessionStore>) {
    let now = unix_now();
    let mut session = created(store.as_ref(), now).await;
    session.state = SessionState::Killed;
    session.version += 1;
    store.save(&session, now).await.unwrap();
    // A later write of an ended session (its slot already released) still works.
    session.version += 1;
    store.save(&session, now).await.unwrap();
    assert_eq!(store.active_sessions(now).await.unwrap(), 0);
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(std::sync::Arc::new(super::MemoryStore::new(3))).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $name() {
                    // TTL disabled: expiry must not depend on the emulator deleting items.
                    let (store, _) = crate::dynamo_local::fresh_store(3, false).await;
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

conformance!(
    a_created_session_loads_back_unchanged,
    an_expired_session_is_absent_though_still_stored,
    the_slot_limit_holds_and_slots_come_back,
    activity_extends_the_lease,
    concurrent_writes_of_one_version_conflict,
    killing_twice_is_harmless,
);

#[tokio::test]
async fn an_expired_item_is_still_in_the_table_but_treated_as_absent() {
    let (store, table) = dynamo_local::fresh_store(3, false).await;
    let long_ago = unix_now() - 600;
    let session = created(&store, long_ago).await;
    let raw = dynamo_local::client()
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("session#{}", session.id)),
        )
        .send()
        .await
        .unwrap();
    assert!(raw.item().is_some(), "the expired item is still stored");
    assert!(store.load(&session.id, unix_now()).await.unwrap().is_none());
}

#[tokio::test]
async fn the_table_is_created_with_ttl_on_expires_at() {
    let (_, table) = dynamo_local::fresh_store(3, true).await;
    let ttl = dynamo_local::client()
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let description = ttl.time_to_live_description().expect("ttl description");
    assert_eq!(description.attribute_name(), Some("expiresAt"));
}

#[tokio::test]
async fn a_session_at_every_cap_fits_in_one_dynamodb_item() {
    let (store, _) = dynamo_local::fresh_store(3, false).await;
    let now = unix_now();
    let mut session = created(&store, now).await;
    // The largest record the service can produce: session code cap, input cap,
    // and a transcript of both capped streams plus a note.
    session.code = "x".repeat(64 * 1024);
    session.inputs = (0..64).map(|_| format!("{}\n", "y".repeat(1023))).collect();
    session.transcript = "z".repeat(2 * 64 * 1024 + 200);
    session.version = 2;
    store.save(&session, now).await.expect("fits below 400 KB");
    assert_eq!(
        store.load(&session.id, now).await.unwrap().unwrap(),
        session
    );
}

#[tokio::test]
async fn the_create_table_command_prepares_a_table_for_the_local_server() {
    let table = format!("cli-{}", uuid::Uuid::new_v4().simple());
    let create_table = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sr-runner"))
            .arg("create-table")
            .env("TABLE_NAME", &table)
            .env("DYNAMODB_ENDPOINT", dynamo_local::endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let output = create_table();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let described = dynamo_local::client()
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let key = described.table().unwrap().key_schema();
    assert_eq!(key[0].attribute_name(), "pk");
    // Running it again is harmless.
    let again = create_table();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
