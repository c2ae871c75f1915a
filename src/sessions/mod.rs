//! Interactive sessions without processes between requests.
//!
//! A session is a record. `start` runs the program until it waits for input (or
//! ends), stops it, and stores what was shown. `input` appends a line and replays
//! the program from the start with every input so far, returning only the output
//! beyond what the user has already seen. The compile cache makes a replay cost
//! only the run. Nothing runs between requests, so nothing can leak or outlive
//! a Lambda invocation.

pub mod model;
pub mod store;

use std::sync::Arc;
use std::time::Instant;

use crate::api::types::{display_output, Outcome};
use crate::runner::{Execution, InputMode, RunError, RunRequest, Runner};
use model::{Ending, Session, SessionId, SessionState};
use store::{unix_now, SessionStore, StoreError};

/// Why a session request failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session not found or expired; run the program again")]
    NotFound,
    #[error("{0}")]
    Gone(String),
    #[error("another input for this session is being processed; send it again")]
    Conflict,
    #[error("all {max_sessions} interactive sessions are in use; try again in a few seconds, or stop a running program")]
    Full { max_sessions: u32 },
    #[error("{0}")]
    TooLarge(String),
    #[error("the session store is unavailable; nothing was changed, please retry")]
    StoreUnavailable(String),
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<StoreError> for SessionError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Full { max_sessions } => SessionError::Full { max_sessions },
            StoreError::Conflict => SessionError::Conflict,
            StoreError::Unavailable(detail) | StoreError::Corrupt(detail) => {
                SessionError::StoreUnavailable(detail)
            }
        }
    }
}

/// Session limits (from the configuration).
#[derive(Debug, Clone)]
pub struct SessionLimits {
    pub ttl_secs: i64,
    /// Code kept in a session record (records must stay far below DynamoDB's 400 KB).
    pub max_code_bytes: usize,
    /// All inputs of a session together.
    pub max_input_bytes: usize,
}

/// What one start or input produced.
#[derive(Debug)]
pub struct Turn {
    pub session: Session,
    /// Output the user has not seen yet.
    pub new_output: String,
    pub execution: Execution,
    /// How the run ended (computed once for the record and the response).
    pub outcome: Outcome,
    /// The replay's output did not begin with what the user had already seen.
    pub diverged: bool,
}

#[derive(Debug)]
pub struct SessionService {
    store: Arc<dyn SessionStore>,
    runner: Arc<Runner>,
    limits: SessionLimits,
}

impl SessionService {
    pub fn new(store: Arc<dyn SessionStore>, runner: Arc<Runner>, limits: SessionLimits) -> Self {
        SessionService {
            store,
            runner,
            limits,
        }
    }

    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// Creates a session (taking a slot) and runs the program until it waits.
    pub async fn start(
        &self,
        language: &str,
        code: String,
        deadline: Option<Instant>,
    ) -> Result<Turn, SessionError> {
        if code.len() > self.limits.max_code_bytes {
            return Err(SessionError::TooLarge(format!(
                "code is {} bytes; interactive sessions accept at most {} bytes",
                code.len(),
                self.limits.max_code_bytes
            )));
        }
        let language = self.runner.resolve_language(language).await?;
        let now = unix_now();
        let mut session = Session::new(language.key, code, now, self.limits.ttl_secs);
        // The slot is taken before anything runs: a full server answers at once.
        self.store.create(&mut session, now).await?;
        match self.replay(&session, deadline).await {
            Ok(execution) => self.record_turn(session, execution).await,
            Err(err) => {
                // Give the slot back; the error is what the user needs to see.
                session.state = SessionState::Killed;
                session.version += 1;
                if let Err(release) = self.store.save(&session, unix_now()).await {
                    tracing::warn!(%release, "could not release the slot of a failed start");
                }
                Err(err)
            }
        }
    }

    /// Appends one line of input (and optionally end-of-file) and replays.
    pub async fn input(
        &self,
        id: &SessionId,
        line: &str,
        close_stdin: bool,
        deadline: Option<Instant>,
    ) -> Result<Turn, SessionError> {
        let mut session = self.load(id).await?;
        if session.state != SessionState::Waiting {
            return Err(gone(&session));
        }
        let mut chunk = line.to_string();
        if !chunk.is_empty() && !chunk.ends_with('\n') {
            chunk.push('\n');
        }
        if !close_stdin && chunk.is_empty() {
            // An empty line is still a line (the user pressed Enter).
            chunk.push('\n');
        }
        let total = session.input_bytes() + chunk.len();
        if total > self.limits.max_input_bytes {
            return Err(SessionError::TooLarge(format!(
                "this session's input would reach {total} bytes; the limit is {} bytes",
                self.limits.max_input_bytes
            )));
        }
        if !chunk.is_empty() {
            session.inputs.push(chunk);
        }
        session.stdin_closed = close_stdin;
        let execution = self.replay(&session, deadline).await?;
        self.record_turn(session, execution).await
    }

    /// The session as stored (for `GET /api/execute/output/:id`).
    pub async fn load(&self, id: &SessionId) -> Result<Session, SessionError> {
        self.store
            .load(id, unix_now())
            .await?
            .ok_or(SessionError::NotFound)
    }

    /// Kills a session and frees its slot. Killing an ended session is a no-op.
    pub async fn kill(&self, id: &SessionId) -> Result<Session, SessionError> {
        for _ in 0..5 {
            let mut session = self.load(id).await?;
            if session.state != SessionState::Waiting {
                return Ok(session);
            }
            session.state = SessionState::Killed;
            session.ending = Some(Ending {
                status: "killed".into(),
                exit_code: None,
                signal: None,
            });
            session.version += 1;
            session.last_activity_at = unix_now();
            match self.store.save(&session, unix_now()).await {
                Ok(()) => return Ok(session),
                // An input landed in between: read again and retry.
                Err(StoreError::Conflict) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(SessionError::Conflict)
    }

    pub async fn active_sessions(&self) -> Result<u32, SessionError> {
        Ok(self.store.active_sessions(unix_now()).await?)
    }

    pub fn max_sessions(&self) -> u32 {
        self.store.max_sessions()
    }

    async fn replay(
        &self,
        session: &Session,
        deadline: Option<Instant>,
    ) -> Result<Execution, SessionError> {
        let language = self.runner.resolve_language(&session.language).await?;
        let mode = InputMode::Interactive {
            close_stdin: session.stdin_closed,
        };
        let request = RunRequest::new(language, session.code.clone(), session.stdin(), mode)
            .with_deadline(deadline);
        Ok(self.runner.execute_detached(request).await?)
    }

    /// Folds a run into the session and stores it (conditional on its version).
    async fn record_turn(
        &self,
        mut session: Session,
        execution: Execution,
    ) -> Result<Turn, SessionError> {
        let limits = &self.runner.config().run_limits;
        let outcome = Outcome::of(&execution);
        let shown = display_output(&execution, outcome.status, limits);
        let (new_output, diverged) = match shown.strip_prefix(session.transcript.as_str()) {
            Some(rest) => (rest.to_string(), false),
            None => (
                shown[common_prefix_len(&shown, &session.transcript)..].to_string(),
                true,
            ),
        };
        if diverged {
            tracing::info!(session = %session.id, "replay diverged from the transcript");
        }
        session.transcript = shown;
        let waiting = execution
            .run
            .as_ref()
            .is_some_and(|run| run.waiting_for_input);
        if !waiting {
            session.state = SessionState::Finished;
            session.ending = Some(Ending {
                status: serde_json::to_value(outcome.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                exit_code: outcome.exit_code,
                signal: outcome.signal.clone(),
            });
        }
        let now = unix_now();
        session.version += 1;
        session.last_activity_at = now;
        session.expires_at = now + self.limits.ttl_secs;
        self.store.save(&session, now).await?;
        Ok(Turn {
            session,
            new_output,
            execution,
            outcome,
            diverged,
        })
    }
}

fn gone(session: &Session) -> SessionError {
    SessionError::Gone(match session.state {
        SessionState::Killed => "this session was stopped; run the program again".into(),
        _ => "the program has finished; run it again to start a new session".into(),
    })
}

/// Length in bytes of the longest common prefix, on a character boundary.
fn common_prefix_len(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, ca), cb)| ca != cb)
        .map(|((i, _), _)| i)
        .unwrap_or_else(|| a.len().min(b.len()))
}

#[cfg(test)]
mod tests {
    use super::common_prefix_len;

    #[test]
    fn common_prefix_respects_character_boundaries() {
        assert_eq!(common_prefix_len("abc", "abd"), 2);
        assert_eq!(common_prefix_len("abc", "abc"), 3);
        assert_eq!(common_prefix_len("ab", "abc"), 2);
        assert_eq!(common_prefix_len("é1", "é2"), 2);
        assert_eq!(common_prefix_len("", "x"), 0);
    }
}
