//! Integrations' API keys (table `api_keys`, migration `0006_api_keys.sql`): a name and
//! the SHA-256 of the key. The store never sees a key itself.

use chrono::{DateTime, SubsecRound, Utc};

use crate::{Backend, EventStore, StoreError};

/// One API key, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The integration's name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            StoreError::Config(format!(
                "api_keys holds a time `{text}` that is not RFC 3339 ({e}); the table was edited by hand"
            ))
        })
}

impl EventStore {
    /// Stores a new key's hash under `name`; `false` when the name is taken.
    pub async fn put_api_key(
        &self,
        name: &str,
        key_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let op = "store an API key";
        let at = at.trunc_subsecs(6);
        let done = match &self.inner.backend {
            Backend::Postgres(pg) => sqlx::query(
                "INSERT INTO api_keys (name, key_hash, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(key_hash)
            .bind(at)
            .execute(pg.pool())
            .await
            .map_err(|e| StoreError::from_sqlx(pg.describe(), op, e))?
            .rows_affected(),
            Backend::Sqlite(lite) => sqlx::query(
                "INSERT INTO api_keys (name, key_hash, created_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(key_hash)
            .bind(crate::sqlite::format_instant(at))
            .execute(lite.pool())
            .await
            .map_err(|e| StoreError::from_sqlx(lite.describe(), op, e))?
            .rows_affected(),
        };
        Ok(done == 1)
    }

    /// The key whose hash is `key_hash`, if any (revoked ones included).
    pub async fn api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.api_key_rows(Some(key_hash)).await?.into_iter().next())
    }

    /// Every key, by name.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.api_key_rows(None).await
    }

    async fn api_key_rows(&self, hash: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let op = "read API keys";
        match &self.inner.backend {
            Backend::Postgres(pg) => {
                let rows: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
                    "SELECT name, created_at, revoked_at FROM api_keys \
                     WHERE $1::text IS NULL OR key_hash = $1 ORDER BY name",
                )
                .bind(hash)
                .fetch_all(pg.pool())
                .await
                .map_err(|e| StoreError::from_sqlx(pg.describe(), op, e))?;
                Ok(rows
                    .into_iter()
                    .map(|(name, created_at, revoked_at)| ApiKeyRecord {
                        name,
                        created_at,
                        revoked_at,
                    })
                    .collect())
            }
            Backend::Sqlite(lite) => {
                let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
                    "SELECT name, created_at, revoked_at FROM api_keys \
                     WHERE ?1 IS NULL OR key_hash = ?1 ORDER BY name",
                )
                .bind(hash)
                .fetch_all(lite.pool())
                .await
                .map_err(|e| StoreError::from_sqlx(lite.describe(), op, e))?;
                rows.into_iter()
                    .map(|(name, created_at, revoked_at)| {
                        Ok(ApiKeyRecord {
                            name,
                            created_at: parse_instant(&created_at)?,
                            revoked_at: revoked_at.as_deref().map(parse_instant).transpose()?,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Revokes the active key named `name`; `false` when there is none.
    pub async fn revoke_api_key(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let op = "revoke an API key";
        let at = at.trunc_subsecs(6);
        let done = match &self.inner.backend {
            Backend::Postgres(pg) => sqlx::query(
                "UPDATE api_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
            )
            .bind(name)
            .bind(at)
            .execute(pg.pool())
            .await
            .map_err(|e| StoreError::from_sqlx(pg.describe(), op, e))?
            .rows_affected(),
            Backend::Sqlite(lite) => sqlx::query(
                "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            )
            .bind(name)
            .bind(crate::sqlite::format_instant(at))
            .execute(lite.pool())
            .await
            .map_err(|e| StoreError::from_sqlx(lite.describe(), op, e))?
            .rows_affected(),
        };
        Ok(done == 1)
    }
}
