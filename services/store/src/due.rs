//! Rows that fall due: a read model keyed by time, taken by a worker to act on.
//!
//! The SLA engine keeps its pending deadlines as rows whose keys start with the due
//! instant, so the rows due by now are a key range. A worker claims them, acts, and
//! deletes the ones it acted on. On PostgreSQL the claim is a transaction-level advisory
//! lock per row, tried in key order and skipped when another worker holds it, and held
//! until [`DueRows::finish`]: several workers never take the same row at once. The rows
//! are read again once locked, so a row another worker fired and deleted is not taken. No
//! row lock is taken, so the claim has no transaction id until it deletes: an open claim
//! holds back neither the log's readers nor the projection writing the rows. SQLite runs one process; its worker reads the rows and
//! deletes each one only if it is unchanged since it was read, so a row the projection
//! rewrote meanwhile (a deadline that moved) survives.

use serde_json::Value;

use crate::StoreError;
use crate::projection::ProjectionRow;

/// Rows claimed by one worker.
#[derive(Debug)]
pub struct DueRows {
    rows: Vec<ProjectionRow>,
    claim: Claim,
}

#[derive(Debug)]
pub(crate) enum Claim {
    Postgres {
        tx: sqlx::Transaction<'static, sqlx::Postgres>,
        describe: String,
    },
    Sqlite {
        pool: sqlx::SqlitePool,
        describe: String,
    },
}

impl DueRows {
    pub(crate) fn new(rows: Vec<ProjectionRow>, claim: Claim) -> Self {
        Self { rows, claim }
    }

    /// The rows, in key order (the earliest due first).
    pub fn rows(&self) -> &[ProjectionRow] {
        &self.rows
    }

    /// Deletes the rows in `done` and releases the rest for the next round.
    pub async fn finish(self, table: &str, done: &[String]) -> Result<(), StoreError> {
        match self.claim {
            Claim::Postgres { mut tx, describe } => {
                let err = |e| StoreError::from_sqlx(&describe, "finish due rows", e);
                if !done.is_empty() {
                    sqlx::query(
                        "DELETE FROM projection_rows WHERE projection = $1 AND key = ANY($2)",
                    )
                    .bind(table)
                    .bind(done)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                }
                tx.commit().await.map_err(err)
            }
            Claim::Sqlite { pool, describe } => {
                let err = |e| StoreError::from_sqlx(&describe, "finish due rows", e);
                // IMMEDIATE: take the write lock before reading (a deferred transaction
                // that reads first cannot always upgrade to write under WAL).
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
                for row in self.rows.iter().filter(|r| done.contains(&r.key)) {
                    let now: Option<(String,)> = sqlx::query_as(
                        "SELECT value FROM projection_rows WHERE projection = ?1 AND key = ?2",
                    )
                    .bind(table)
                    .bind(&row.key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
                    // Compared as JSON, not as text: the same document may be spelled
                    // with its keys in another order.
                    let unchanged = now
                        .and_then(|(text,)| serde_json::from_str::<Value>(&text).ok())
                        .is_some_and(|value| value == row.value);
                    if unchanged {
                        sqlx::query(
                            "DELETE FROM projection_rows WHERE projection = ?1 AND key = ?2",
                        )
                        .bind(table)
                        .bind(&row.key)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    }
                }
                tx.commit().await.map_err(err)
            }
        }
    }
}
