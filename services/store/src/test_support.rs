//! Helpers for tests that need a real database: each test gets a fresh PostgreSQL
//! database of its own, or a fresh SQLite file.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

/// The server tests create their databases on: `WHISTLE_TEST_ADMIN_URL`, default the
/// local server's `postgres` database.
pub fn admin_url() -> String {
    std::env::var("WHISTLE_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Creates an empty database named `whistle_t_<random>` and returns its URL. The test
/// script drops leftovers of earlier runs.
pub async fn fresh_postgres_url() -> Result<String, sqlx::Error> {
    let admin = admin_url();
    let name = format!("whistle_t_{}", Uuid::new_v4().simple());
    let mut conn = PgConnectOptions::from_str(&admin)?.connect().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// A path for a new SQLite file in the system's temporary directory.
pub fn fresh_sqlite_path() -> PathBuf {
    std::env::temp_dir().join(format!("whistle-test-{}.db", Uuid::new_v4().simple()))
}
