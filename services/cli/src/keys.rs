//! Keys from configuration: the secrets that sign bearer tokens, the key of residents'
//! receipt tokens, and the master key that seals residents' personal data.
//!
//! Each is read from a file. Unset, each lives next to the SQLite file (`.whistle/`) and
//! is created on first use with mode 0600, so the embedded default runs with nothing to
//! configure; a production deployment points each option at its secret store's file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use whistle_api::Secret;
use whistle_ticket::Vault;

use crate::StoreArgs;

/// Where the keys are.
#[derive(Debug, Clone, Default, Args)]
pub struct KeyArgs {
    /// Bearer-token secrets, one per line (`<key id> <secret>`, the first signs, all
    /// verify). Unset: `jwt.secret` next to the SQLite file, created when missing.
    #[arg(long, env = "WHISTLE_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// The key of residents' receipt tokens (one secret). Unset: `receipt.secret` next to
    /// the SQLite file, created when missing. Changing it invalidates every receipt.
    #[arg(long, env = "WHISTLE_RECEIPT_SECRET_FILE")]
    pub receipt_secret_file: Option<PathBuf>,
    /// The master key sealing residents' personal data (base64 of 32 bytes). Unset:
    /// `data.key` next to the SQLite file, created when missing. Losing it makes every
    /// resident's contact unreadable.
    #[arg(long, env = "WHISTLE_DATA_KEY_FILE")]
    pub data_key_file: Option<PathBuf>,
}

fn beside_store(store: &StoreArgs, name: &str) -> PathBuf {
    store
        .sqlite
        .parent()
        .map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
}

/// Reads a secrets file, or creates it with one fresh secret when it does not exist.
fn secrets_file(path: &Path, id: &str) -> anyhow::Result<Vec<Secret>> {
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {} for the secret", dir.display()))?;
        }
        let secret = Secret::generate(id).map_err(anyhow::Error::msg)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                writeln!(file, "{}", secret.to_line())
                    .with_context(|| format!("writing {}", path.display()))?;
                tracing::info!(path = %path.display(), "created a new secret");
            }
            // Another process created it first: read theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("creating {}", path.display()));
            }
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secrets in {}", path.display()))?;
    Secret::parse_all(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

impl KeyArgs {
    /// The bearer-token secrets.
    pub fn secrets(&self, store: &StoreArgs) -> anyhow::Result<Vec<Secret>> {
        let path = self
            .jwt_secret_file
            .clone()
            .unwrap_or_else(|| beside_store(store, "jwt.secret"));
        secrets_file(&path, "k1")
    }

    /// The receipt tokens' key.
    pub fn receipt_key(&self, store: &StoreArgs) -> anyhow::Result<Vec<u8>> {
        let path = self
            .receipt_secret_file
            .clone()
            .unwrap_or_else(|| beside_store(store, "receipt.secret"));
        let secrets = secrets_file(&path, "receipts")?;
        Ok(secrets
            .first()
            .map(|s| s.to_line().into_bytes())
            .unwrap_or_default())
    }

    /// The personal-data vault.
    pub fn vault(&self, store: &StoreArgs) -> anyhow::Result<Arc<Vault>> {
        let path = self
            .data_key_file
            .clone()
            .unwrap_or_else(|| beside_store(store, "data.key"));
        Ok(Arc::new(Vault::load_or_create(&path).with_context(
            || format!("loading the personal-data key {}", path.display()),
        )?))
    }
}
