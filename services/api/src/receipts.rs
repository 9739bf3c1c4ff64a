//! Receipt tokens: what a resident is given when their complaint is received, to follow
//! and rate it without an account.
//!
//! A token is the ticket id and a MAC of it under a server secret, URL-safe base64:
//! nothing to store, nothing to look up, and unforgeable: knowing a ticket id (it
//! appears in NATS subjects and to staff) does not give its token.

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use sha2::Sha256;
use whistle_events::TicketId;

use crate::error::ApiError;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Bytes of MAC kept in a token: 96 bits.
const MAC_BYTES: usize = 12;

/// Makes and checks receipt tokens.
#[derive(Clone)]
pub struct Receipts {
    key: Vec<u8>,
}

impl std::fmt::Debug for Receipts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipts").field("key", &"***").finish()
    }
}

impl Receipts {
    /// Tokens keyed by `secret` (derived apart from its other uses).
    pub fn new(secret: &[u8]) -> Self {
        let mut key = b"whistle receipt tokens v1\0".to_vec();
        key.extend_from_slice(secret);
        Self { key }
    }

    fn mac(&self, ticket: &TicketId) -> Result<[u8; MAC_BYTES], ApiError> {
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(ApiError::internal)?;
        mac.update(ticket.as_uuid().as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&full[..MAC_BYTES]);
        Ok(out)
    }

    /// The token of `ticket`.
    pub fn token(&self, ticket: &TicketId) -> Result<String, ApiError> {
        let mut bytes = ticket.as_uuid().as_bytes().to_vec();
        bytes.extend_from_slice(&self.mac(ticket)?);
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The ticket a token is for; 404 for any token that does not hold (the answer does
    /// not say whether the ticket exists).
    pub fn open(&self, token: &str) -> Result<TicketId, ApiError> {
        let unknown = || {
            ApiError::not_found(
                "unknown_receipt",
                "no complaint has this receipt token; check that you copied all of it",
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| unknown())?;
        if bytes.len() != 16 + MAC_BYTES {
            return Err(unknown());
        }
        let uuid = uuid::Uuid::from_slice(&bytes[..16]).map_err(|_| unknown())?;
        let ticket = TicketId::from_uuid(uuid);
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(ApiError::internal)?;
        mac.update(uuid.as_bytes());
        // Constant-time comparison of the truncated MAC.
        mac.verify_truncated_left(&bytes[16..])
            .map_err(|_| unknown())?;
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_to_its_ticket_and_nothing_else_opens() {
        let receipts = Receipts::new(b"a secret of the server, long enough");
        let ticket = TicketId::new_random();
        let token = receipts.token(&ticket).expect("token");
        assert_eq!(receipts.open(&token).expect("opens"), ticket);

        let other = Receipts::new(b"another server's secret, long enough");
        assert_eq!(other.open(&token).expect_err("foreign").status(), 404);

        let mut forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .expect("base64");
        forged[3] ^= 1;
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
        assert!(receipts.open(&forged).is_err());
        assert!(receipts.open("not a token").is_err());
        assert!(receipts.open("").is_err());
    }
}
