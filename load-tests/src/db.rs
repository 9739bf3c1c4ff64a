//! Scratch PostgreSQL databases for benchmarks.

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;

/// Creates the database `name` on `url`'s server; its URL.
pub async fn create(url: &str, name: &str) -> anyhow::Result<String> {
    let options = PgConnectOptions::from_str(url).context("DATABASE_URL")?;
    let mut admin = crate::store::admin_connection(&options).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// Creates the database `name` on `url`'s server as a copy of `template`; its URL. The
/// template's own connections are ended first (PostgreSQL copies only a database nobody is
/// connected to): use it only on a benchmark's own databases.
pub async fn copy(url: &str, template: &str, name: &str) -> anyhow::Result<String> {
    let options = PgConnectOptions::from_str(url).context("DATABASE_URL")?;
    let mut admin = crate::store::admin_connection(&options).await?;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(template)
    .execute(&mut admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE {template}"
    )))
    .execute(&mut admin)
    .await?;
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// Drops the database `name` on `url`'s server, if it can.
pub async fn drop(url: &str, name: &str) {
    if let Ok(options) = PgConnectOptions::from_str(url)
        && let Ok(mut admin) = crate::store::admin_connection(&options).await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await;
    }
}

/// The event store in the database at `url`, on the system clock, configured as by default.
pub async fn open_store(url: &str) -> anyhow::Result<whistle_store::EventStore> {
    Ok(whistle_store::EventStore::open(
        &whistle_store::StoreConfig {
            database_url: Some(url.to_owned()),
            ..whistle_store::StoreConfig::default()
        },
        std::sync::Arc::new(whistle_clock::SystemClock),
    )
    .await?)
}
