//! Each ticket's data key, kept next to the log (table `ticket_keys`, migration
//! `0005_ticket_keys.sql`).
//!
//! A ticket's personal data is sealed in its events with a key of the ticket's own; the
//! store keeps that key *wrapped* (encrypted under a master key the store never sees), so
//! the bytes here are opaque. Erasing the key is how personal data leaves an append-only
//! log: the events stay, the key that opens them does not.
//!
//! Two rules the ticket executor relies on:
//! - [`EventStore::put_ticket_key`] inserts only when the ticket has no key yet and answers
//!   with what is stored, so two commands racing to receive one ticket agree on one key.
//! - An erased key stays erased: erasing is idempotent, keeps the first time, and leaves a
//!   row behind even for a ticket that never had a key, so no later `put_ticket_key`
//!   brings a key (and readable personal data) back.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use whistle_events::TicketId;

use crate::{Backend, EventStore, StoreError};

/// What the store holds of one ticket's data key.
#[derive(Clone, PartialEq, Eq)]
pub enum TicketKey {
    /// The wrapped key, as stored (opaque to the store).
    Present(Vec<u8>),
    /// Erased: whatever it sealed can never be read again.
    Erased {
        /// When it was first erased.
        at: DateTime<Utc>,
    },
    /// No key was ever stored for the ticket.
    Missing,
}

impl fmt::Debug for TicketKey {
    /// Names the state and a key's length, never its bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Present(wrapped) => write!(f, "Present({} bytes)", wrapped.len()),
            Self::Erased { at } => f.debug_struct("Erased").field("at", at).finish(),
            Self::Missing => f.write_str("Missing"),
        }
    }
}

/// A row of `ticket_keys`: the wrapped key and when it was erased.
type KeyRow<T> = (Option<Vec<u8>>, Option<T>);

impl EventStore {
    /// Stores `wrapped` as the data key of `ticket` unless the ticket has one already, and
    /// returns what the store holds afterwards: the key that was there first
    /// ([`TicketKey::Present`], possibly another caller's), or [`TicketKey::Erased`] when
    /// the ticket's personal data was erased (no key is ever stored again then). Never
    /// [`TicketKey::Missing`].
    pub async fn put_ticket_key(
        &self,
        ticket: TicketId,
        wrapped: &[u8],
    ) -> Result<TicketKey, StoreError> {
        let id = ticket.to_string();
        let now = self.inner.clock.now().trunc_subsecs(6);
        let op = "store a ticket's key";
        match &self.inner.backend {
            Backend::Postgres(pg) => {
                let err = |e| StoreError::from_sqlx(pg.describe(), op, e);
                sqlx::query(
                    "INSERT INTO ticket_keys (ticket_id, wrapped_key, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (ticket_id) DO NOTHING",
                )
                .bind(&id)
                .bind(wrapped)
                .bind(now)
                .execute(pg.pool())
                .await
                .map_err(err)?;
            }
            Backend::Sqlite(lite) => {
                let err = |e| StoreError::from_sqlx(lite.describe(), op, e);
                sqlx::query(
                    "INSERT INTO ticket_keys (ticket_id, wrapped_key, created_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (ticket_id) DO NOTHING",
                )
                .bind(&id)
                .bind(wrapped)
                .bind(crate::sqlite::format_instant(now))
                .execute(lite.pool())
                .await
                .map_err(err)?;
            }
        }
        match self.ticket_key(ticket).await? {
            TicketKey::Missing => Err(self.corrupt_key(
                ticket,
                "it was stored but is gone; check that nothing deletes rows of `ticket_keys`",
            )),
            stored => Ok(stored),
        }
    }

    /// The data key of `ticket`, as stored.
    pub async fn ticket_key(&self, ticket: TicketId) -> Result<TicketKey, StoreError> {
        let id = ticket.to_string();
        let op = "read a ticket's key";
        let row = match &self.inner.backend {
            Backend::Postgres(pg) => {
                let row: Option<KeyRow<DateTime<Utc>>> = sqlx::query_as(
                    "SELECT wrapped_key, erased_at FROM ticket_keys WHERE ticket_id = $1",
                )
                .bind(&id)
                .fetch_optional(pg.pool())
                .await
                .map_err(|e| StoreError::from_sqlx(pg.describe(), op, e))?;
                row
            }
            Backend::Sqlite(lite) => {
                let row: Option<KeyRow<String>> = sqlx::query_as(
                    "SELECT wrapped_key, erased_at FROM ticket_keys WHERE ticket_id = ?1",
                )
                .bind(&id)
                .fetch_optional(lite.pool())
                .await
                .map_err(|e| StoreError::from_sqlx(lite.describe(), op, e))?;
                match row {
                    None => None,
                    Some((wrapped, None)) => Some((wrapped, None)),
                    Some((wrapped, Some(text))) => {
                        let at = DateTime::parse_from_rfc3339(&text).map_err(|e| {
                            self.corrupt_key(
                                ticket,
                                &format!("the erasure time `{text}` is not RFC 3339 ({e})"),
                            )
                        })?;
                        Some((wrapped, Some(at.with_timezone(&Utc))))
                    }
                }
            }
        };
        match row {
            None => Ok(TicketKey::Missing),
            Some((_, Some(at))) => Ok(TicketKey::Erased { at }),
            Some((Some(wrapped), None)) => Ok(TicketKey::Present(wrapped)),
            // The table's check forbids it.
            Some((None, None)) => {
                Err(self.corrupt_key(ticket, "the row holds neither a key nor an erasure time"))
            }
        }
    }

    /// Destroys the data key of `ticket`: its wrapped bytes become NULL and the erasure time
    /// is kept. Idempotent: erasing again changes nothing (the first time stands), and a
    /// ticket without a key gets an erased row, so no key can be stored for it later.
    ///
    /// The old bytes may linger where the database keeps superseded rows until it reuses
    /// the space (PostgreSQL until VACUUM, both in backups and WAL archives); on SQLite the
    /// erasing connection turns `secure_delete` on, so the freed space is zeroed.
    pub async fn erase_ticket_key(
        &self,
        ticket: TicketId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = ticket.to_string();
        let at = at.trunc_subsecs(6);
        let op = "erase a ticket's key";
        match &self.inner.backend {
            Backend::Postgres(pg) => {
                sqlx::query(
                    "INSERT INTO ticket_keys (ticket_id, wrapped_key, created_at, erased_at) \
                     VALUES ($1, NULL, $2, $2) \
                     ON CONFLICT (ticket_id) DO UPDATE \
                     SET wrapped_key = NULL, erased_at = coalesce(ticket_keys.erased_at, excluded.erased_at)",
                )
                .bind(&id)
                .bind(at)
                .execute(pg.pool())
                .await
                .map_err(|e| StoreError::from_sqlx(pg.describe(), op, e))?;
            }
            Backend::Sqlite(lite) => {
                let err = |e| StoreError::from_sqlx(lite.describe(), op, e);
                let at = crate::sqlite::format_instant(at);
                let mut connection = lite.pool().acquire().await.map_err(err)?;
                sqlx::query("PRAGMA secure_delete = ON")
                    .execute(&mut *connection)
                    .await
                    .map_err(err)?;
                sqlx::query(
                    "INSERT INTO ticket_keys (ticket_id, wrapped_key, created_at, erased_at) \
                     VALUES (?1, NULL, ?2, ?2) \
                     ON CONFLICT (ticket_id) DO UPDATE \
                     SET wrapped_key = NULL, erased_at = coalesce(ticket_keys.erased_at, excluded.erased_at)",
                )
                .bind(&id)
                .bind(&at)
                .execute(&mut *connection)
                .await
                .map_err(err)?;
            }
        }
        Ok(())
    }

    fn corrupt_key(&self, ticket: TicketId, what: &str) -> StoreError {
        StoreError::Corrupt(format!(
            "{}: the key of ticket {ticket} in `ticket_keys` cannot be read: {what}; restore the row from a backup, or erase it (its personal data becomes unreadable)",
            self.describe()
        ))
    }
}
