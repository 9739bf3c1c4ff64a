//! `whistle token` (sign a bearer token for a person) and `whistle api-key` (create, list
//! and revoke the keys other systems publish incidents with).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use whistle_api::{AuthConfig, Principal, Role, Scope};
use whistle_clock::{Clock, SystemClock};

use crate::StoreArgs;
use crate::keys::KeyArgs;

/// `whistle token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// operator, grid_worker, community, street, liaison or supervisor.
    #[arg(long)]
    pub role: Role,
    /// city, intake, district:<code>, street:<code>, community:<code> or
    /// department:<code>.
    #[arg(long)]
    pub scope: Scope,
    /// The person's account (a liaison's id for liaisons, e.g. zhujian-wang). Default:
    /// the role and scope.
    #[arg(long)]
    pub subject: Option<String>,
    /// How long the token holds: 30m, 8h, 7d.
    #[arg(long, default_value = "8h")]
    pub ttl: String,
    /// Where the keys are.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// A duration like `30m`, `8h` or `7d`.
fn ttl(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let bad = || format!("--ttl {text:?}: write minutes, hours or days, e.g. 30m, 8h, 7d");
    let split = text.len().checked_sub(1).with_context(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok().with_context(bad)?;
    let seconds = match unit {
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => anyhow::bail!(bad()),
    };
    anyhow::ensure!(
        (1..=366 * 86_400).contains(&(number * seconds)),
        "--ttl {text:?}: a token holds between a minute and a year"
    );
    Ok(Duration::from_secs(number * seconds))
}

/// Signs and prints a token.
pub async fn token(store: &StoreArgs, args: &TokenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.role != Role::Integration,
        "integrations use API keys: `whistle api-key create --name <name>`"
    );
    let subject = args
        .subject
        .clone()
        .unwrap_or_else(|| format!("{}-{}", args.role, args.scope).replace(':', "-"));
    let signed = sign_token(
        store,
        &args.keys,
        &subject,
        args.role,
        args.scope.clone(),
        ttl(&args.ttl)?,
    )?;
    println!("{signed}");
    Ok(())
}

/// Signs a token for `subject` as `role` in `scope`, valid for `ttl`, with the secrets
/// `keys` names (the ones `serve` with the same options accepts).
pub fn sign_token(
    store: &StoreArgs,
    keys: &KeyArgs,
    subject: &str,
    role: Role,
    scope: Scope,
    ttl: Duration,
) -> anyhow::Result<String> {
    let principal = Principal::new(subject, role, scope).map_err(anyhow::Error::msg)?;
    let config = AuthConfig::new(keys.secrets(store)?);
    whistle_api::auth::issue_token(&config, &principal, SystemClock.now(), ttl)
        .map_err(anyhow::Error::msg)
}

/// `whistle api-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print it once (only its hash is stored).
    Create {
        /// The integration's name, e.g. pump-station-7 (lower-case letters, digits, -).
        #[arg(long)]
        name: String,
    },
    /// List the keys: names, when created, whether revoked.
    List,
    /// Revoke a key: requests with it are refused from now on.
    Revoke {
        /// The integration's name.
        #[arg(long)]
        name: String,
    },
}

/// Runs an `api-key` subcommand.
pub async fn api_key(store: &StoreArgs, command: &ApiKeyCommand) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let events = whistle_store::EventStore::open(&store.config(), clock.clone())
        .await
        .context("opening the event store")?;
    match command {
        ApiKeyCommand::Create { name } => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty()
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "--name {name:?}: use 1–64 lower-case letters, digits and `-`"
            );
            let key = whistle_api::auth::new_api_key().map_err(anyhow::Error::msg)?;
            let created = events
                .put_api_key(name, &whistle_api::auth::api_key_hash(&key), clock.now())
                .await?;
            anyhow::ensure!(
                created,
                "an API key named {name} already exists; revoke it first or choose another name"
            );
            eprintln!("API key for {name} (shown once; store it in the integration's secrets):");
            println!("{key}");
            Ok(())
        }
        ApiKeyCommand::List => {
            let keys = events.api_keys().await?;
            if keys.is_empty() {
                println!("no API keys in {}", events.describe());
            }
            for key in keys {
                println!(
                    "{:<32} created {}  {}",
                    key.name,
                    key.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    key.revoked_at.map_or_else(
                        || "active".to_owned(),
                        |at| format!("revoked {}", at.format("%Y-%m-%dT%H:%M:%SZ"))
                    )
                );
            }
            Ok(())
        }
        ApiKeyCommand::Revoke { name } => {
            let revoked = events.revoke_api_key(name.trim(), clock.now()).await?;
            anyhow::ensure!(revoked, "no active API key named {name}");
            println!("revoked the API key {name}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_as_minutes_hours_and_days() {
        assert_eq!(ttl("30m").expect("ttl"), Duration::from_secs(1_800));
        assert_eq!(ttl("8h").expect("ttl"), Duration::from_secs(28_800));
        assert_eq!(ttl("7d").expect("ttl"), Duration::from_secs(604_800));
        for bad in ["", "h", "8", "8w", "-1h", "0m", "400d"] {
            assert!(ttl(bad).is_err(), "{bad}");
        }
    }
}
