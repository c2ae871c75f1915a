//! The DynamoDB store. One table, partition key `pk` (string):
//!
//! * `session#<uuid>`: a session (see `to_item` for the attributes);
//! * `slot#<n>` for `n` in `0..max_sessions`: a concurrency slot lease with
//!   `owner` (session id) and `expiresAt`.
//!
//! Every item has `createdAt`, `lastActivityAt` and the TTL attribute
//! `expiresAt` (epoch seconds). A session and its slot are always written in one
//! transaction, so neither exists without the other.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType,
    KeysAndAttributes, Put, ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;

use super::{SessionStore, StoreError};
use crate::sessions::model::{Ending, Session, SessionId, SessionState};

type Item = HashMap<String, AttributeValue>;

pub const EXPIRES_AT: &str = "expiresAt";

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    max_sessions: u32,
}

/// Builds a client from the standard credential and region chain, with the
/// standard retry policy and timeouts short enough that an unreachable store
/// becomes a 503 within seconds instead of a hung request.
pub async fn build_client(endpoint: Option<&str>) -> Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3));
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    Client::new(&loader.load().await)
}

fn session_key(id: &SessionId) -> String {
    format!("session#{id}")
}

fn slot_key(slot: u32) -> String {
    format!("slot#{slot}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Maps SDK failures: throttling, timeouts and unreachable endpoints are the
/// store being unavailable; the detail goes to the log, not to the client.
fn unavailable<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = match &err {
        SdkError::ServiceError(service) => format!("{}", service.err()),
        other => format!("{other}"),
    };
    tracing::error!(error = %detail, "DynamoDB request failed");
    StoreError::Unavailable(detail)
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("request could not be built: {err}"))
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, max_sessions: u32) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            max_sessions,
        }
    }

    /// Creates the table (on-demand billing) and, if asked, enables TTL on
    /// `expiresAt`. For local development and tests; production uses template.yaml.
    pub async fn create_table(&self, enable_ttl: bool) -> Result<(), StoreError> {
        let key = KeySchemaElement::builder()
            .attribute_name("pk")
            .key_type(KeyType::Hash)
            .build()
            .map_err(build_error)?;
        let attribute = AttributeDefinition::builder()
            .attribute_name("pk")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .key_schema(key)
            .attribute_definitions(attribute)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => {
                tracing::info!(table = %self.table, "table already exists");
            }
            Err(err) => return Err(unavailable(err)),
        }
        if enable_ttl {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(build_error)?;
            let ttl = self
                .client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(spec)
                .send()
                .await;
            if let Err(err) = ttl {
                // Already enabled is fine; anything else is reported.
                let text = format!("{:?}", err);
                if !text.contains("already enabled") {
                    return Err(unavailable(err));
                }
            }
        }
        Ok(())
    }

    /// Reads every slot item (consistently) in one batch.
    async fn read_slots(&self) -> Result<HashMap<u32, Item>, StoreError> {
        let keys: Vec<Item> = (0..self.max_sessions)
            .map(|slot| HashMap::from([("pk".to_string(), s(slot_key(slot)))]))
            .collect();
        let mut found = HashMap::new();
        // BatchGetItem takes at most 100 keys per call.
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?,
            );
            let mut rounds = 0;
            while let Some(request) = pending.take() {
                rounds += 1;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    if let Some(slot) = item
                        .get("pk")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|k| k.strip_prefix("slot#"))
                        .and_then(|n| n.parse().ok())
                    {
                        found.insert(slot, item.clone());
                    }
                }
                pending = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
                if pending.is_some() {
                    if rounds >= 5 {
                        return Err(StoreError::Unavailable("slot reads throttled".into()));
                    }
                    tokio::time::sleep(Duration::from_millis(50 * rounds)).await;
                }
            }
        }
        Ok(found)
    }
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn string(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

fn slot_expired(item: &Item, now: i64) -> bool {
    number(item, EXPIRES_AT).is_none_or(|at| at <= now)
}

fn to_item(session: &Session) -> Item {
    let mut item = HashMap::from([
        ("pk".to_string(), s(session_key(&session.id))),
        ("kind".to_string(), s("session")),
        ("language".to_string(), s(&session.language)),
        ("code".to_string(), s(&session.code)),
        (
            "inputs".to_string(),
            AttributeValue::L(session.inputs.iter().map(s).collect()),
        ),
        (
            "stdinClosed".to_string(),
            AttributeValue::Bool(session.stdin_closed),
        ),
        ("transcript".to_string(), s(&session.transcript)),
        ("state".to_string(), s(session.state.as_str())),
        ("slot".to_string(), n(session.slot)),
        ("createdAt".to_string(), n(session.created_at)),
        ("lastActivityAt".to_string(), n(session.last_activity_at)),
        (EXPIRES_AT.to_string(), n(session.expires_at)),
        ("version".to_string(), n(session.version)),
    ]);
    if let Some(ending) = &session.ending {
        item.insert("status".into(), s(&ending.status));
        if let Some(code) = ending.exit_code {
            item.insert("exitCode".into(), n(code));
        }
        if let Some(signal) = &ending.signal {
            item.insert("signal".into(), s(signal));
        }
    }
    item
}

fn from_item(item: &Item) -> Result<Session, StoreError> {
    let missing = |name: &str| StoreError::Corrupt(format!("attribute {name} missing or invalid"));
    let pk = string(item, "pk").ok_or_else(|| missing("pk"))?;
    let id = pk
        .strip_prefix("session#")
        .and_then(|raw| SessionId::parse(raw).ok())
        .ok_or_else(|| missing("pk"))?;
    let state = string(item, "state")
        .and_then(|raw| SessionState::parse(&raw))
        .ok_or_else(|| missing("state"))?;
    let inputs = match item.get("inputs") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| missing("inputs")))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(missing("inputs")),
    };
    let ending = string(item, "status").map(|status| Ending {
        status,
        exit_code: number(item, "exitCode").map(|c| c as i32),
        signal: string(item, "signal"),
    });
    Ok(Session {
        id,
        language: string(item, "language").ok_or_else(|| missing("language"))?,
        code: string(item, "code").ok_or_else(|| missing("code"))?,
        inputs,
        stdin_closed: matches!(item.get("stdinClosed"), Some(AttributeValue::Bool(true))),
        transcript: string(item, "transcript").unwrap_or_default(),
        state,
        ending,
        slot: number(item, "slot").ok_or_else(|| missing("slot"))? as u32,
        created_at: number(item, "createdAt").ok_or_else(|| missing("createdAt"))?,
        last_activity_at: number(item, "lastActivityAt")
            .ok_or_else(|| missing("lastActivityAt"))?,
        expires_at: number(item, EXPIRES_AT).ok_or_else(|| missing(EXPIRES_AT))?,
        version: number(item, "version").ok_or_else(|| missing("version"))? as u64,
    })
}

/// Which items of a cancelled transaction failed their condition.
fn failed_conditions<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<bool>> {
    let SdkError::ServiceError(service) = err else {
        return None;
    };
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
        cancelled,
    ) = service.err()
    else {
        return None;
    };
    Some(
        cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| {
                matches!(
                    r.code(),
                    Some("ConditionalCheckFailed") | Some("TransactionConflict")
                )
            })
            .collect(),
    )
}

#[async_trait]
impl SessionStore for DynamoStore {
    #[tracing::instrument(skip_all, fields(session = %session.id))]
    async fn create(&self, session: &mut Session, now: i64) -> Result<(), StoreError> {
        let slots = self.read_slots().await?;
        let mut candidates: Vec<u32> = (0..self.max_sessions)
            .filter(|slot| slots.get(slot).is_none_or(|item| slot_expired(item, now)))
            .collect();
        // Start at a random free slot so concurrent starts rarely collide.
        if !candidates.is_empty() {
            let offset = (uuid::Uuid::new_v4().as_u128() % candidates.len() as u128) as usize;
            candidates.rotate_left(offset);
        }
        for slot in candidates {
            session.slot = slot;
            session.version = 1;
            let slot_item = HashMap::from([
                ("pk".to_string(), s(slot_key(slot))),
                ("kind".to_string(), s("slot")),
                ("owner".to_string(), s(session.id.as_str())),
                ("createdAt".to_string(), n(now)),
                ("lastActivityAt".to_string(), n(now)),
                (EXPIRES_AT.to_string(), n(session.expires_at)),
            ]);
            let take_slot = Put::builder()
                .table_name(&self.table)
                .set_item(Some(slot_item))
                .condition_expression("attribute_not_exists(pk) OR #exp <= :now")
                .expression_attribute_names("#exp", EXPIRES_AT)
                .expression_attribute_values(":now", n(now))
                .build()
                .map_err(build_error)?;
            let put_session = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(session)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(build_error)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(take_slot).build())
                .transact_items(TransactWriteItem::builder().put(put_session).build())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(err) => match failed_conditions(&err) {
                    // Someone took this slot first: try the next one.
                    Some(failed) if failed.first() == Some(&true) => continue,
                    Some(_) => return Err(StoreError::Conflict),
                    None => return Err(unavailable(err)),
                },
            }
        }
        Err(StoreError::Full {
            max_sessions: self.max_sessions,
        })
    }

    #[tracing::instrument(skip_all, fields(session = %id))]
    async fn load(&self, id: &SessionId, now: i64) -> Result<Option<Session>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(session_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match output.item() {
            None => Ok(None),
            Some(item) => {
                let session = from_item(item)?;
                Ok((!session.is_expired(now)).then_some(session))
            }
        }
    }

    #[tracing::instrument(skip_all, fields(session = %session.id, version = session.version))]
    async fn save(&self, session: &Session, now: i64) -> Result<(), StoreError> {
        let put_session = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(session)))
            .condition_expression("version = :previous AND #exp > :now")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":previous", n(session.version.saturating_sub(1)))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(build_error)?;
        let slot_write = if session.state.holds_slot() {
            let extend = Update::builder()
                .table_name(&self.table)
                .key("pk", s(slot_key(session.slot)))
                .update_expression("SET #exp = :exp, lastActivityAt = :now")
                .condition_expression("#owner = :id")
                .expression_attribute_names("#exp", EXPIRES_AT)
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":exp", n(session.expires_at))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":id", s(session.id.as_str()))
                .build()
                .map_err(build_error)?;
            TransactWriteItem::builder().update(extend).build()
        } else {
            // Released only if still ours: a slot re-leased by another session
            // after expiry must not be freed by this one.
            let release = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(slot_key(session.slot)))
                .condition_expression("#owner = :id")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":id", s(session.id.as_str()))
                .build()
                .map_err(build_error)?;
            TransactWriteItem::builder().delete(release).build()
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(put_session.clone())
                    .build(),
            )
            .transact_items(slot_write)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match failed_conditions(&err) {
                Some(failed) if failed.first() == Some(&true) => Err(StoreError::Conflict),
                Some(_) if !session.state.holds_slot() => {
                    // The slot is no longer ours (already released): write the
                    // session alone, still conditional on its version.
                    self.client
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(to_item(session)))
                        .condition_expression("version = :previous AND #exp > :now")
                        .expression_attribute_names("#exp", EXPIRES_AT)
                        .expression_attribute_values(
                            ":previous",
                            n(session.version.saturating_sub(1)),
                        )
                        .expression_attribute_values(":now", n(now))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|err| match &err {
                            SdkError::ServiceError(e)
                                if e.err().is_conditional_check_failed_exception() =>
                            {
                                StoreError::Conflict
                            }
                            _ => unavailable(err),
                        })
                }
                Some(_) => Err(StoreError::Conflict),
                None => Err(unavailable(err)),
            },
        }
    }

    async fn active_sessions(&self, now: i64) -> Result<u32, StoreError> {
        let slots = self.read_slots().await?;
        Ok(slots
            .values()
            .filter(|item| !slot_expired(item, now))
            .count() as u32)
    }

    fn max_sessions(&self) -> u32 {
        self.max_sessions
    }
}
