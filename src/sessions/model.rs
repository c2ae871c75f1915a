//! The session record: everything needed to replay a program, and nothing else.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated session id: a random (v4) UUID in canonical lowercase form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    pub fn new_random() -> Self {
        SessionId(uuid::Uuid::new_v4().to_string())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let uuid = uuid::Uuid::try_parse(raw.trim())
            .ok()
            .filter(|uuid| uuid.get_version_num() == 4)
            .ok_or_else(|| format!("{raw:?} is not a session id (expected a random UUID)"))?;
        Ok(SessionId(uuid.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SessionId::parse(&value)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// The program waits for input; the session holds a slot.
    Waiting,
    /// The program ended (exit, limit, compile error).
    Finished,
    /// The user (or the server) killed the session.
    Killed,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Waiting => "waiting",
            SessionState::Finished => "finished",
            SessionState::Killed => "killed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "waiting" => Some(SessionState::Waiting),
            "finished" => Some(SessionState::Finished),
            "killed" => Some(SessionState::Killed),
            _ => None,
        }
    }

    pub fn holds_slot(self) -> bool {
        self == SessionState::Waiting
    }
}

/// How the program ended, once it has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ending {
    pub status: String,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
}

/// One interactive session. Times are Unix epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    /// Language key (`cpp`, `python`, ...).
    pub language: String,
    pub code: String,
    /// Every input line given so far, each ending in a newline.
    pub inputs: Vec<String>,
    /// The user closed stdin (`eof: true`).
    pub stdin_closed: bool,
    /// Everything shown to the user so far.
    pub transcript: String,
    pub state: SessionState,
    pub ending: Option<Ending>,
    /// Which of the `MAX_SESSIONS` slots the session holds while waiting.
    pub slot: u32,
    pub created_at: i64,
    pub last_activity_at: i64,
    pub expires_at: i64,
    /// Incremented on every write; writes are conditional on the previous value.
    pub version: u64,
}

impl Session {
    /// A new session waiting for its first run, with a fresh random id; the store
    /// assigns its slot and version when it is created.
    pub fn new(language: &str, code: String, now: i64, ttl_secs: i64) -> Self {
        Session {
            id: SessionId::new_random(),
            language: language.to_string(),
            code,
            inputs: Vec::new(),
            stdin_closed: false,
            transcript: String::new(),
            state: SessionState::Waiting,
            ending: None,
            slot: 0,
            created_at: now,
            last_activity_at: now,
            expires_at: now + ttl_secs,
            version: 0,
        }
    }

    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at <= now
    }

    /// Bytes of all inputs so far.
    pub fn input_bytes(&self) -> usize {
        self.inputs.iter().map(String::len).sum()
    }

    /// All inputs as the program's stdin.
    pub fn stdin(&self) -> Vec<u8> {
        self.inputs.concat().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_must_be_uuids() {
        let id = SessionId::new_random();
        assert_eq!(SessionId::parse(id.as_str()).unwrap(), id);
        assert!(SessionId::parse("../../etc/passwd").is_err());
        assert!(SessionId::parse("").is_err());
        assert!(SessionId::parse("123").is_err());
        let upper = id.as_str().to_uppercase();
        assert_eq!(
            SessionId::parse(&upper).unwrap(),
            id,
            "normalised to lowercase"
        );
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in [
            SessionState::Waiting,
            SessionState::Finished,
            SessionState::Killed,
        ] {
            assert_eq!(SessionState::parse(state.as_str()), Some(state));
        }
    }
}
