//! Checkpoints and leases: what a singleton reader of the log (the relay) needs.
//!
//! A **lease** makes one process at a time the holder of a name. On PostgreSQL it is a
//! session advisory lock on a connection of its own: if the holder dies, its connection
//! closes and the lock is released, so a waiting instance takes over. On SQLite (one
//! process, the embedded default) it is a lock inside this process.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};

use sqlx::{Connection, PgConnection};

use crate::StoreError;

/// The advisory lock class whistle's leases use (the first key of the two-key form), so
/// they cannot collide with other users of advisory locks on the same database.
const LEASE_CLASS: i32 = 0x5748_4953; // "WHIS"

fn local_leases() -> &'static Mutex<HashSet<String>> {
    static LEASES: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LEASES.get_or_init(Mutex::default)
}

/// A held lease. Dropping it releases it.
#[derive(Debug)]
pub struct Lease {
    name: String,
    holder: Holder,
}

#[derive(Debug)]
enum Holder {
    Postgres(PgConnection),
    Local,
}

impl Lease {
    pub(crate) async fn try_postgres(
        name: &str,
        mut connection: PgConnection,
        store: &str,
    ) -> Result<Option<Self>, StoreError> {
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(LEASE_CLASS)
            .bind(name)
            .fetch_one(&mut connection)
            .await
            .map_err(|e| StoreError::from_sqlx(store, "take a lease", e))?;
        Ok(held.then(|| Self {
            name: name.to_owned(),
            holder: Holder::Postgres(connection),
        }))
    }

    pub(crate) fn try_local(name: &str) -> Option<Self> {
        let mut leases = local_leases()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        leases.insert(name.to_owned()).then(|| Self {
            name: name.to_owned(),
            holder: Holder::Local,
        })
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the lease is still held. On PostgreSQL this asks the lease's own connection:
    /// a holder whose connection broke has lost the lease (another instance may hold it
    /// now) and must stop.
    pub async fn is_held(&mut self) -> bool {
        match &mut self.holder {
            Holder::Postgres(connection) => connection.ping().await.is_ok(),
            Holder::Local => true,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // On PostgreSQL, closing the connection (dropping it) releases the advisory lock.
        if matches!(self.holder, Holder::Local) {
            local_leases()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.name);
        }
    }
}
