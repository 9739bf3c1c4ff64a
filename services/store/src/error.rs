//! Errors of the event store. Every message says what went wrong and what to do about it.

/// What can go wrong in the event store. Clone, because one failed batch answers every
/// append that was waiting in it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// No connection to the database could be had (it is down, or every connection is busy).
    /// Nothing was written.
    #[error(
        "the event store ({store}) is unreachable or overloaded ({cause}). Nothing was written; check that the database is running and that DATABASE_URL points at it, then retry"
    )]
    Unavailable {
        /// The store, described without secrets.
        store: String,
        /// The driver's error, rendered (in the message, not a `source`, so it is printed once).
        cause: String,
    },
    /// The append was sent but no answer came back (the connection broke, or the database
    /// took too long): it may or may not have been recorded.
    #[error(
        "the event store ({store}) did not confirm the append to {stream} ({cause}); it may or may not have been recorded: read the stream before retrying"
    )]
    OutcomeUnknown {
        /// The store, described without secrets.
        store: String,
        /// The stream, as `Type-id`.
        stream: String,
        /// What happened.
        cause: String,
    },
    /// Another writer appended to the stream first (optimistic concurrency).
    #[error(
        "stream {stream} is at version {actual}, not {expected}: another command changed it first; reload the stream and retry"
    )]
    WrongExpectedVersion {
        /// The stream, as `Type-id`.
        stream: String,
        /// The version the writer expected.
        expected: u64,
        /// The version found.
        actual: u64,
    },
    /// A stored event has a type or version this build has no code for.
    #[error(
        "stream {stream} at position {position}: unknown event type `{event_type}` version `{event_version}`; an upcaster is missing or the log was written by a newer whistle"
    )]
    UnknownEvent {
        /// The stream, as `Type-id`.
        stream: String,
        /// The event's global position.
        position: u64,
        /// The stored type.
        event_type: String,
        /// The stored version.
        event_version: String,
    },
    /// A stored event's payload does not deserialize into its type.
    #[error(
        "stream {stream} at position {position}: the payload of `{event_type}` version `{event_version}` does not deserialize: {reason}"
    )]
    MalformedEvent {
        /// The stream, as `Type-id`.
        stream: String,
        /// The event's global position.
        position: u64,
        /// The stored type.
        event_type: String,
        /// The stored version.
        event_version: String,
        /// What the decoder said.
        reason: String,
    },
    /// The append itself is not valid (a programming error in the caller).
    #[error("invalid append to stream {stream}: {reason}")]
    InvalidAppend {
        /// The stream, as `Type-id`.
        stream: String,
        /// What is wrong.
        reason: String,
    },
    /// Schema migrations failed.
    #[error("migrating the event store ({store}) failed: {cause}")]
    Migration {
        /// The store, described without secrets.
        store: String,
        /// The migrator's error, rendered.
        cause: String,
    },
    /// The database answered with an error while doing `operation`.
    #[error("the event store ({store}) failed to {operation}: {cause}")]
    Database {
        /// The store, described without secrets.
        store: String,
        /// What the store was doing.
        operation: &'static str,
        /// The driver's error, rendered.
        cause: String,
    },
    /// A read model rebuilt up to `position` would move its consumer's checkpoint back:
    /// the consumer ran meanwhile.
    #[error(
        "consumer {consumer} committed up to position {checkpoint} while its read models were rebuilt up to {position}; nothing was replaced: stop every process that runs it (whistle serve), then rebuild again"
    )]
    Overtaken {
        /// The consumer.
        consumer: String,
        /// Its checkpoint.
        checkpoint: u64,
        /// The position the rebuild reached.
        position: u64,
    },
    /// Rows handed to a read model's replacement do not belong in it (a programming error
    /// in the caller); nothing was written.
    #[error("invalid read-model rows: {0}; nothing was written")]
    InvalidRows(String),
    /// The configuration cannot work.
    #[error("event store configuration: {0}")]
    Config(String),
    /// A stored read-model row cannot be read back (the message names it and what to do).
    #[error("{0}")]
    Corrupt(String),
    /// The store's writer stopped (the process is shutting down) before it confirmed an
    /// append.
    #[error(
        "the event store ({store}) stopped before confirming the append to {stream}; read the stream to see whether it was recorded before retrying"
    )]
    Stopped {
        /// The store, described without secrets.
        store: String,
        /// The stream, as `Type-id`.
        stream: String,
    },
}

impl StoreError {
    /// Sorts a driver error into "unreachable" (retry later, nothing written) or a plain
    /// database error.
    pub(crate) fn from_sqlx(store: &str, operation: &'static str, cause: sqlx::Error) -> Self {
        let unreachable = match &cause {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // 08xxx: connection exceptions; 57P0x: the server is shutting down or
                // restarting; SQLite 14: cannot open the database file.
                code.starts_with("08") || code.starts_with("57P0") || code == "14"
            }),
            _ => false,
        };
        if unreachable {
            Self::Unavailable {
                store: store.to_owned(),
                cause: cause.to_string(),
            }
        } else {
            Self::Database {
                store: store.to_owned(),
                operation,
                cause: cause.to_string(),
            }
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::WrongExpectedVersion { .. }
        )
    }
}
