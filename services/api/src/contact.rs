//! The resident's contact as each role may see it: in full for those who call residents
//! back, masked (138****1234) for everyone else, or marked erased.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use whistle_events::TicketId;
use whistle_ticket::{CommandError, Reporter};

use crate::error::ApiError;
use crate::state::ApiState;

/// A resident's contact, as the caller may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContactOut {
    /// `full`, `masked`, `erased`, `none`, or `unreadable` (sealed under a key this
    /// instance does not hold).
    pub shown: String,
    /// Name.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// When it was erased.
    pub erased_at: Option<DateTime<Utc>>,
}

impl ContactOut {
    fn empty(shown: &str) -> Self {
        Self {
            shown: shown.to_owned(),
            name: None,
            phone: None,
            address: None,
            erased_at: None,
        }
    }
}

/// The contact of `ticket`, in full when `full`, else masked.
pub async fn contact_for(
    state: &ApiState,
    ticket: TicketId,
    full: bool,
) -> Result<ContactOut, ApiError> {
    let reporter = match state.tickets.reporter(ticket).await {
        Ok(reporter) => reporter,
        // Sealed under another master key (a misconfigured instance): the ticket is still
        // shown, without the contact, and the fault is logged for the operators.
        Err(CommandError::Unreadable(cause)) => {
            tracing::error!(%ticket, cause = %cause, "a resident's contact cannot be opened");
            return Ok(ContactOut::empty("unreadable"));
        }
        Err(other) => return Err(other.into()),
    };
    match reporter {
        Reporter::None => Ok(ContactOut::empty("none")),
        Reporter::Erased { at } => Ok(ContactOut {
            erased_at: Some(at),
            ..ContactOut::empty("erased")
        }),
        Reporter::Contact(contact) => {
            let (shown, contact) = if full {
                ("full", contact)
            } else {
                ("masked", contact.masked())
            };
            Ok(ContactOut {
                shown: shown.to_owned(),
                name: contact.name.clone(),
                phone: contact.phone.clone(),
                address: contact.address.clone(),
                erased_at: None,
            })
        }
    }
}
