//! Residents' personal data at rest: sealed inside the events with a key of the ticket's
//! own, so that erasing one small key removes the data from a log that is never rewritten.
//!
//! Envelope encryption, two layers, both ChaCha20-Poly1305 with a fresh random 12-byte
//! nonce per encryption and the ticket id as associated data:
//! - the **master key** ([`Vault`]), from configuration, never stored in the database,
//!   wraps each ticket's data key;
//! - the **data key** (32 random bytes, one per ticket) is stored wrapped in the store's
//!   `ticket_keys` table and seals the ticket's [`ReporterContact`] into a
//!   [`SealedContact`] in its `Received` event.
//!
//! The ticket id as associated data binds both: a sealed contact or a wrapped key copied
//! onto another ticket does not open. Losing the master key loses every contact (the
//! events stay readable otherwise); keep the key file backed up apart from the database.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::{DateTime, Utc};
use whistle_events::{ReporterContact, SealedContact, TicketId};

/// How long a nonce is, in bytes (ChaCha20-Poly1305's 96 bits).
const NONCE_LEN: usize = 12;

/// What to do about a bad master key: said by every error about one.
const HOW_TO_MAKE_A_KEY: &str =
    "write 32 random bytes in standard base64, e.g. the output of `openssl rand -base64 32`";

/// The master key that wraps every ticket's data key. Its `Debug` never prints the key.
pub struct Vault {
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

/// Why a master key cannot be had. No message includes any part of the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The text is not standard base64.
    #[error("the master key is not base64: {HOW_TO_MAKE_A_KEY}")]
    NotBase64,
    /// The key decodes to the wrong number of bytes.
    #[error("the master key is {len} bytes long, not 32: {HOW_TO_MAKE_A_KEY}")]
    WrongLength {
        /// How many bytes it has.
        len: usize,
    },
    /// The key file cannot be read, created or used.
    #[error("master key file {}: {cause}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        cause: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system's random number generator failed ({0}); nothing was written, retry")]
    Random(String),
}

impl Vault {
    /// The master key written as standard base64 (32 bytes; surrounding white space is
    /// ignored, so a key file may end with a newline).
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        // The decoder's own message would quote a byte of the key: say only that it failed.
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|_| VaultError::NotBase64)?;
        let cipher = ChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| VaultError::WrongLength { len: bytes.len() })?;
        Ok(Self { cipher })
    }

    /// The master key in the file at `path` (base64, as [`Vault::from_base64`] reads it),
    /// or, when there is no such file, a new random key written there first: readable and
    /// writable by its owner only (mode 0600), its directory created if needed. Two
    /// processes starting at once end up with the same key: only one creates the file.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<Self, VaultError> {
        let path = path.as_ref();
        let file_error = |cause: String| VaultError::File {
            path: path.to_owned(),
            cause,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_others_can_read(path);
                return Self::from_base64(&text).map_err(|e| file_error(e.to_string()));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(format!("cannot be read: {e}"))),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| file_error(format!("its directory cannot be created: {e}")))?;
        }
        let key = Key::try_generate().map_err(|e| VaultError::Random(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                let text = BASE64.encode(key.as_slice()) + "\n";
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| file_error(format!("cannot be written: {e}")))?;
                Ok(Self {
                    cipher: ChaCha20Poly1305::new(&key),
                })
            }
            // Another process created it first: use its key.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| file_error(format!("cannot be read: {e}")))?;
                Self::from_base64(&text).map_err(|e| file_error(e.to_string()))
            }
            Err(e) => Err(file_error(format!("cannot be created: {e}"))),
        }
    }

    /// A random master key that lives as long as this value: for tests and demos. Data
    /// sealed under it cannot be read by any other process, nor by this one after a
    /// restart.
    pub fn ephemeral() -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(&Key::generate()),
        }
    }

    /// A new random data key for `ticket`, wrapped under the master key, as the store
    /// keeps it: nonce, then ciphertext and tag.
    pub(crate) fn new_ticket_key(&self, ticket: TicketId) -> Result<Vec<u8>, VaultError> {
        let key = Key::try_generate().map_err(|e| VaultError::Random(e.to_string()))?;
        let nonce = Nonce::try_generate().map_err(|e| VaultError::Random(e.to_string()))?;
        let aad = ticket.to_string();
        let wrapped = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: key.as_slice(),
                    aad: aad.as_bytes(),
                },
            )
            // Only a message or associated data too long for the cipher fails; 32 bytes
            // and a UUID are not.
            .map_err(|_| VaultError::Random("a data key could not be wrapped".to_owned()))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&wrapped);
        Ok(stored)
    }

    /// Unwraps the stored data key of `ticket`.
    pub(crate) fn open_ticket_key(
        &self,
        ticket: TicketId,
        wrapped: &[u8],
    ) -> Result<TicketCipher, SealError> {
        let unopened = || SealError::WrongMasterKey { ticket };
        if wrapped.len() <= NONCE_LEN {
            return Err(unopened());
        }
        let (nonce, ciphertext) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| unopened())?;
        let aad = ticket.to_string();
        let key = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| unopened())?;
        let cipher = ChaCha20Poly1305::new_from_slice(&key).map_err(|_| unopened())?;
        Ok(TicketCipher { cipher })
    }
}

/// Says so in the log when the key file is open to more than its owner (it still works:
/// mounted secrets are often 0644, and refusing would stop the service, not the reader).
fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the master key file is readable by others than its owner; make it owner-only (chmod 600)"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Why a ticket's sealed contact cannot be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SealError {
    /// The stored data key does not open with this master key.
    #[error(
        "the key of ticket {ticket} does not open with the configured master key: the key file is not the one the ticket was received with (restore that file), or the key's row was altered"
    )]
    WrongMasterKey {
        /// The ticket.
        ticket: TicketId,
    },
    /// The sealed contact does not open with the ticket's key.
    #[error(
        "the sealed reporter contact of ticket {ticket} does not open with the ticket's key: it was altered, or copied from another ticket"
    )]
    Unopenable {
        /// The ticket.
        ticket: TicketId,
    },
    /// The contact could not be sealed.
    #[error(
        "the reporter contact of ticket {ticket} could not be sealed: {cause}; nothing was written, retry"
    )]
    Unsealable {
        /// The ticket.
        ticket: TicketId,
        /// Why.
        cause: String,
    },
}

/// One ticket's data key, unwrapped: held in memory for one command or one read only.
pub(crate) struct TicketCipher {
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for TicketCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketCipher").finish_non_exhaustive()
    }
}

impl TicketCipher {
    /// `contact` sealed for `ticket`, under a fresh random nonce: sealing the same contact
    /// twice gives two different seals.
    pub(crate) fn seal(
        &self,
        ticket: TicketId,
        contact: &ReporterContact,
    ) -> Result<SealedContact, SealError> {
        let unsealable = |cause: String| SealError::Unsealable { ticket, cause };
        let plain = serde_json::to_vec(contact).map_err(|e| unsealable(e.to_string()))?;
        let nonce = Nonce::try_generate().map_err(|e| unsealable(e.to_string()))?;
        let aad = ticket.to_string();
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| unsealable("the contact is too long to encrypt".to_owned()))?;
        Ok(SealedContact {
            nonce: BASE64.encode(nonce.as_slice()),
            ciphertext: BASE64.encode(ciphertext),
        })
    }

    /// The contact `sealed` holds, if it was sealed for `ticket` with this key.
    pub(crate) fn open(
        &self,
        ticket: TicketId,
        sealed: &SealedContact,
    ) -> Result<ReporterContact, SealError> {
        let unopenable = || SealError::Unopenable { ticket };
        let nonce = BASE64.decode(&sealed.nonce).map_err(|_| unopenable())?;
        let nonce = Nonce::try_from(nonce.as_slice()).map_err(|_| unopenable())?;
        let ciphertext = BASE64
            .decode(&sealed.ciphertext)
            .map_err(|_| unopenable())?;
        let aad = ticket.to_string();
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| unopenable())?;
        serde_json::from_slice(&plain).map_err(|_| unopenable())
    }
}

/// A ticket's reporter contact, as [`Tickets::reporter`](crate::Tickets::reporter) reads
/// it. `Debug` prints a contact masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reporter {
    /// The resident left no way to reach them.
    None,
    /// How to reach the resident, in the clear: show it only to roles that call back.
    Contact(ReporterContact),
    /// The resident's personal data was erased; it can never be read again.
    Erased {
        /// When (the erasure's event, or the key's erasure when that came first).
        at: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(n: u128) -> TicketId {
        TicketId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn contact() -> ReporterContact {
        ReporterContact {
            name: Some("张三丰".into()),
            phone: Some("13812341234".into()),
            address: Some("红旗里小区5号楼3单元201".into()),
        }
    }

    fn cipher(vault: &Vault, t: TicketId) -> TicketCipher {
        let wrapped = vault.new_ticket_key(t).expect("a key");
        vault.open_ticket_key(t, &wrapped).expect("opens")
    }

    #[test]
    fn a_sealed_contact_opens_with_its_ticket_key_only() {
        let vault = Vault::ephemeral();
        let t = ticket(1);
        let key = cipher(&vault, t);
        let sealed = key.seal(t, &contact()).expect("sealed");
        assert_eq!(key.open(t, &sealed), Ok(contact()));

        let json = serde_json::to_string(&sealed).expect("JSON");
        for secret in ["13812341234", "张三丰", "三丰", "5号楼", "1234"] {
            assert!(!json.contains(secret), "{secret} shows in {json}");
        }
        // Another ticket's key, or the right key on another ticket, opens nothing.
        assert_eq!(
            cipher(&vault, t).open(t, &sealed),
            Err(SealError::Unopenable { ticket: t })
        );
        assert_eq!(
            key.open(ticket(2), &sealed),
            Err(SealError::Unopenable { ticket: ticket(2) })
        );
        // One bit altered: refused, not garbled.
        let mut bytes = BASE64.decode(&sealed.ciphertext).expect("base64");
        bytes[0] ^= 1;
        let altered = SealedContact {
            ciphertext: BASE64.encode(bytes),
            ..sealed.clone()
        };
        assert_eq!(
            key.open(t, &altered),
            Err(SealError::Unopenable { ticket: t })
        );
    }

    #[test]
    fn every_seal_has_a_fresh_nonce() {
        let t = ticket(1);
        let key = cipher(&Vault::ephemeral(), t);
        let a = key.seal(t, &contact()).expect("sealed");
        let b = key.seal(t, &contact()).expect("sealed");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(BASE64.decode(&a.nonce).map(|n| n.len()), Ok(NONCE_LEN));
    }

    #[test]
    fn a_wrapped_key_opens_with_its_master_key_and_ticket_only() {
        let vault = Vault::ephemeral();
        let t = ticket(1);
        let wrapped = vault.new_ticket_key(t).expect("a key");
        assert_eq!(wrapped.len(), NONCE_LEN + 32 + 16);
        assert!(vault.open_ticket_key(t, &wrapped).is_ok());
        assert_eq!(
            Vault::ephemeral().open_ticket_key(t, &wrapped).err(),
            Some(SealError::WrongMasterKey { ticket: t })
        );
        assert_eq!(
            vault.open_ticket_key(ticket(2), &wrapped).err(),
            Some(SealError::WrongMasterKey { ticket: ticket(2) })
        );
        assert_eq!(
            vault.open_ticket_key(t, &wrapped[..NONCE_LEN]).err(),
            Some(SealError::WrongMasterKey { ticket: t })
        );
    }

    #[test]
    fn a_master_key_is_32_bytes_of_base64_and_never_printed() {
        let text = BASE64.encode([7u8; 32]);
        let vault = Vault::from_base64(&format!("  {text}\n")).expect("valid");
        assert_eq!(format!("{vault:?}"), "Vault { .. }");
        assert_eq!(
            Vault::from_base64(&BASE64.encode([7u8; 16])).err(),
            Some(VaultError::WrongLength { len: 16 })
        );
        let err = Vault::from_base64("c2VjcmV0!!").err();
        assert_eq!(err, Some(VaultError::NotBase64));
        assert!(
            !err.map(|e| e.to_string())
                .unwrap_or_default()
                .contains("c2Vj")
        );

        // The same master key, given twice, opens what the other wrapped.
        let t = ticket(1);
        let wrapped = vault.new_ticket_key(t).expect("a key");
        let again = Vault::from_base64(&text).expect("valid");
        assert!(again.open_ticket_key(t, &wrapped).is_ok());
    }

    #[test]
    fn a_key_file_is_created_once_owner_only_then_read_back() {
        let dir = std::env::temp_dir().join(format!("whistle-vault-{}", uuid::Uuid::new_v4()));
        let path = dir.join("keys").join("master.key");
        let first = Vault::load_or_create(&path).expect("created");
        let t = ticket(1);
        let wrapped = first.new_ticket_key(t).expect("a key");
        let second = Vault::load_or_create(&path).expect("read back");
        assert!(second.open_ticket_key(t, &wrapped).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        std::fs::write(&path, "not a key").expect("written");
        let err = Vault::load_or_create(&path).expect_err("refused");
        assert!(
            err.to_string().contains("master.key") && err.to_string().contains("base64"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
