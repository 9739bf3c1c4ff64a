//! Incidents from other systems: the contract for messages published on `incidents.<source>`.
//!
//! Another system (the 12345 hotline platform, a city-management IoT platform, a property
//! company) publishes [`IncidentMessage`]s with PagerDuty-style semantics: `trigger` opens a
//! ticket, `update` adds information to it, `resolve` says the incident is over at the
//! source. The same source and external id always land on the same ticket
//! ([`TicketId::for_external`]), so redelivery is harmless.
//!
//! The wire fields are kept raw (strings and options) and [`parse_incident`] checks them one
//! by one, so a rejection names exactly what was wrong ([`IncidentRejection`]). A publisher
//! that asks (request/reply) gets an [`IncidentAnswer`]; every rejected message is also kept
//! on `rejected.incidents.<source>` as a [`RejectedIncident`]. Whether the location exists in
//! the jurisdiction tree is checked by the service, not here.
//!
//! The JSON Schemas are committed under `schemas/incidents/` ([`incident_schemas`]).

use std::fmt;

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, schema_for};
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::error::Category as Kind;

use crate::ids::{
    CommunityId, DistrictId, ExternalId, GridId, IdError, SourceSystem, StreetId, TicketId,
};
use crate::subjects::UNKNOWN_TOKEN;
use crate::ticket::Received;
use crate::values::{
    Category, Channel, ExternalSource, Location, ReporterContact, Text, TextError, Urgency,
};

/// The first token of every incident subject: `incidents.<source>`.
pub const INCIDENTS_PREFIX: &str = "incidents";

/// The first tokens of the subjects rejected incidents are kept on (stream `REJECTED`):
/// `rejected.incidents.<source>`.
pub const REJECTED_INCIDENTS_PREFIX: &str = "rejected.incidents";

/// The longest `location.place` accepted, in characters.
pub const MAX_PLACE_LEN: usize = 200;
/// The longest `reporter.name` accepted, in characters.
pub const MAX_REPORTER_NAME_LEN: usize = 100;
/// The longest `reporter.phone` accepted, in characters.
pub const MAX_REPORTER_PHONE_LEN: usize = 40;
/// The longest `reporter.address` accepted, in characters.
pub const MAX_REPORTER_ADDRESS_LEN: usize = 200;

/// The subject a source publishes its incidents on.
pub fn incident_subject(source: &SourceSystem) -> String {
    format!("{INCIDENTS_PREFIX}.{source}")
}

/// The subject a rejected incident is kept on, from the source token of the subject it came
/// on. A token that is not a valid source code (empty, or with characters codes may not
/// have) becomes `_`, so the subject always has exactly three tokens.
pub fn rejected_subject(source_token: &str) -> String {
    let token = if SourceSystem::parse(source_token).is_ok() {
        source_token
    } else {
        UNKNOWN_TOKEN
    };
    format!("{REJECTED_INCIDENTS_PREFIX}.{token}")
}

/// The source token of an incident subject: `citymgmt-iot` for `incidents.citymgmt-iot`.
/// `None` for any subject that is not `incidents.` followed by exactly one non-empty token.
pub fn source_token(subject: &str) -> Option<&str> {
    let token = subject.strip_prefix(INCIDENTS_PREFIX)?.strip_prefix('.')?;
    (!token.is_empty() && !token.contains('.')).then_some(token)
}

/// What an incident message asks for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IncidentAction {
    /// Opens a ticket for the incident. Needs `category`, `location` and `description`.
    /// Triggering an incident that already has a ticket (same `source` and `external_id`)
    /// lands on that ticket and changes nothing.
    Trigger,
    /// Adds information to the incident's ticket. Needs `note`.
    Update,
    /// Says the incident is over at the source. `note` is optional.
    Resolve,
}

impl IncidentAction {
    /// The code on the wire: `trigger`, `update` or `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trigger => "trigger",
            Self::Update => "update",
            Self::Resolve => "resolve",
        }
    }
}

impl fmt::Display for IncidentAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An incident as another system publishes it on `incidents.<source>`, as UTF-8 JSON.
///
/// Unknown fields are refused, so a misspelt field is reported instead of being dropped.
/// `category`, `location`, `urgency`, `description` and `reporter` belong to `trigger` only;
/// `note` belongs to `update` and `resolve` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = [
    {
        "if": { "properties": { "action": { "const": "trigger" } } },
        "then": {
            "required": ["category", "location", "description"],
            "properties": {
                "category": { "not": { "type": "null" } },
                "location": { "not": { "type": "null" } },
                "description": { "not": { "type": "null" } },
                "note": false
            }
        }
    },
    {
        "if": { "properties": { "action": { "const": "update" } } },
        "then": {
            "required": ["note"],
            "properties": { "note": { "not": { "type": "null" } } }
        }
    },
    {
        "if": { "properties": { "action": { "enum": ["update", "resolve"] } } },
        "then": {
            "properties": {
                "category": false,
                "location": false,
                "urgency": false,
                "description": false,
                "reporter": false
            }
        }
    }
]))]
pub struct IncidentMessage {
    /// The publishing system's code, agreed with whistle beforehand. Must equal the last
    /// token of the subject the message is published on (`incidents.<source>`).
    #[schemars(with = "SourceSystem")]
    pub source: String,
    /// The source's own id of the incident, its deduplication key: every message about one
    /// incident carries the same `external_id`, and one `source` + `external_id` is one
    /// ticket forever. At most 200 characters, no control characters.
    #[schemars(with = "String", length(min = 1, max = 200), pattern(r"\S"))]
    pub external_id: String,
    /// `trigger` opens the ticket, `update` adds a note to it, `resolve` says the incident
    /// is over at the source.
    pub action: IncidentAction,
    /// Trigger only, required: the kind of problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Category>")]
    pub category: Option<String>,
    /// Trigger only, required: where the problem is, as codes of whistle's jurisdiction tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<IncidentLocation>,
    /// Trigger only: how urgent; `minor` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Urgency>")]
    pub urgency: Option<String>,
    /// Trigger only, required: what happened, as the reporter or the sensor said it. At most
    /// 4,000 characters; blank is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4000), pattern(r"\S"))]
    pub description: Option<String>,
    /// Trigger only: how to reach the person who reported it (personal data, shown masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<IncidentReporter>,
    /// Update (required) and resolve (optional): the new information, or how it ended. At
    /// most 2,000 characters; blank is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2000), pattern(r"\S"))]
    pub note: Option<String>,
    /// When it happened at the source, RFC 3339 with an offset, e.g.
    /// `2026-07-21T07:42:00+08:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub occurred_at: Option<String>,
}

/// Where an incident is, as codes of whistle's jurisdiction tree (区 → 街道 → 社区 → 网格).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentLocation {
    /// District (区) code, e.g. `haigang`.
    #[schemars(with = "DistrictId")]
    pub district: String,
    /// Street office (街道) code, e.g. `wenhualu`.
    #[schemars(with = "StreetId")]
    pub street: String,
    /// Community (社区) code, e.g. `hongqili`.
    #[schemars(with = "CommunityId")]
    pub community: String,
    /// Grid (网格) code, when the source knows it, e.g. `hongqili-03`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<GridId>")]
    pub grid: Option<String>,
    /// Residential compound (小区/院) and building (楼栋), free text, e.g. `红旗里小区 3号楼`.
    /// At most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub place: Option<String>,
}

/// How to reach the person who reported an incident. All optional; blank counts as absent.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentReporter {
    /// Name, as given. At most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub name: Option<String>,
    /// Phone number, as given. At most 40 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40))]
    pub phone: Option<String>,
    /// Home address, as given. At most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub address: Option<String>,
}

impl fmt::Debug for IncidentReporter {
    /// Masked, as [`ReporterContact`]'s Debug is: a message may be logged whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = ReporterContact {
            name: self.name.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
        }
        .masked();
        f.debug_struct("IncidentReporter")
            .field("name", &masked.name)
            .field("phone", &masked.phone)
            .field("address", &masked.address)
            .finish()
    }
}

/// What a valid incident asks for, with checked values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentRequest {
    /// Open the ticket (or land on the one already open).
    Trigger {
        /// Where the problem is (not yet checked against the jurisdiction tree).
        location: Location,
        /// What kind of problem.
        category: Category,
        /// How urgent.
        urgency: Urgency,
        /// What happened.
        description: Text,
        /// How to reach the reporter.
        reporter: ReporterContact,
    },
    /// Add information to the ticket.
    Update {
        /// The new information.
        note: Text,
    },
    /// The incident is over at the source.
    Resolve {
        /// How it ended, when the source said.
        note: Option<Text>,
    },
}

impl IncidentRequest {
    /// Which action this is.
    pub fn action(&self) -> IncidentAction {
        match self {
            Self::Trigger { .. } => IncidentAction::Trigger,
            Self::Update { .. } => IncidentAction::Update,
            Self::Resolve { .. } => IncidentAction::Resolve,
        }
    }
}

/// An incident message that passed every check of [`parse_incident`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidIncident {
    source: SourceSystem,
    external_id: ExternalId,
    ticket: TicketId,
    occurred_at: Option<DateTime<Utc>>,
    request: IncidentRequest,
}

impl ValidIncident {
    /// The publishing system.
    pub fn source(&self) -> &SourceSystem {
        &self.source
    }

    /// The source's id of the incident.
    pub fn external_id(&self) -> &ExternalId {
        &self.external_id
    }

    /// The incident's ticket: [`TicketId::for_external`] of source and external id.
    pub fn ticket(&self) -> TicketId {
        self.ticket
    }

    /// When it happened at the source, if the source said.
    pub fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.occurred_at
    }

    /// What the message asks for.
    pub fn request(&self) -> &IncidentRequest {
        &self.request
    }

    /// What the message asks for, by value.
    pub fn into_request(self) -> IncidentRequest {
        self.request
    }

    /// The body of the ticket's `Received` event, for a trigger; `None` otherwise.
    pub fn received(&self) -> Option<Received> {
        let IncidentRequest::Trigger {
            location,
            category,
            urgency,
            description,
            reporter,
        } = &self.request
        else {
            return None;
        };
        Some(Received {
            channel: Channel::ExternalSystem,
            reporter: reporter.clone(),
            sealed_reporter: None,
            location: location.clone(),
            category: *category,
            urgency: *urgency,
            description: description.clone(),
            source: Some(ExternalSource {
                system: self.source.clone(),
                external_id: self.external_id.clone(),
            }),
        })
    }
}

/// Why an incident was rejected, as a stable code publishers can match on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The payload is not UTF-8 JSON.
    BadJson,
    /// The JSON does not fit `IncidentMessage.schema.json`: a field is unknown, missing,
    /// of the wrong type or not used with this action, or `occurred_at` is not RFC 3339.
    Schema,
    /// `source` differs from the subject's source token.
    SourceMismatch,
    /// `source`, `external_id` or a location code is not a valid id.
    BadId,
    /// The action needs a field the message does not have.
    MissingField,
    /// `category` is not one of whistle's categories.
    UnknownCategory,
    /// `urgency` is not one of whistle's urgency tiers.
    UnknownUrgency,
    /// A text (`description`, `note`, `location.place`, `reporter.*`) is blank or too long.
    BadText,
    /// Given by the service: the location is not in the jurisdiction tree.
    UnknownLocation,
    /// Given by the service: an update or resolve for an incident that was never triggered.
    UnknownIncident,
    /// Given by the service: the incident's ticket is closed or merged and takes no
    /// updates; trigger a new incident (a new `external_id`) if the problem is back.
    TicketClosed,
    /// Given by the service: the message failed every time it was tried; the reason says
    /// why. Publish it again once that is fixed.
    Unprocessable,
}

impl RejectionCode {
    /// Every code, in a stable order.
    pub const ALL: [Self; 12] = [
        Self::BadJson,
        Self::Schema,
        Self::SourceMismatch,
        Self::BadId,
        Self::MissingField,
        Self::UnknownCategory,
        Self::UnknownUrgency,
        Self::BadText,
        Self::UnknownLocation,
        Self::UnknownIncident,
        Self::TicketClosed,
        Self::Unprocessable,
    ];

    /// The code on the wire, e.g. `source_mismatch`. Never changes once shipped.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::Schema => "schema",
            Self::SourceMismatch => "source_mismatch",
            Self::BadId => "bad_id",
            Self::MissingField => "missing_field",
            Self::UnknownCategory => "unknown_category",
            Self::UnknownUrgency => "unknown_urgency",
            Self::BadText => "bad_text",
            Self::UnknownLocation => "unknown_location",
            Self::UnknownIncident => "unknown_incident",
            Self::TicketClosed => "ticket_closed",
            Self::Unprocessable => "unprocessable",
        }
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an incident message was rejected: a stable code and a reason for a person, saying
/// what was wrong and what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct IncidentRejection {
    /// The stable code.
    pub code: RejectionCode,
    /// What was wrong and what to do.
    pub reason: String,
}

impl IncidentRejection {
    /// A rejection with this code and reason.
    pub fn new(code: RejectionCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

impl From<IdError> for IncidentRejection {
    fn from(err: IdError) -> Self {
        Self::new(RejectionCode::BadId, err.to_string())
    }
}

impl From<TextError> for IncidentRejection {
    fn from(err: TextError) -> Self {
        Self::new(RejectionCode::BadText, err.to_string())
    }
}

/// The reply to a publisher that sent its incident as a request: `{"status":"accepted",
/// "ticket_id":"…"}` or `{"status":"rejected","code":"…","reason":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum IncidentAnswer {
    /// The incident is recorded (or was already) on this ticket.
    Accepted {
        /// The incident's ticket.
        ticket_id: TicketId,
    },
    /// The incident was not recorded; fix the message and send it again.
    Rejected {
        /// The stable code.
        code: RejectionCode,
        /// What was wrong and what to do.
        reason: String,
    },
}

impl From<IncidentRejection> for IncidentAnswer {
    fn from(rejection: IncidentRejection) -> Self {
        Self::Rejected {
            code: rejection.code,
            reason: rejection.reason,
        }
    }
}

/// A rejected incident message, kept on `rejected.incidents.<source>` (stream `REJECTED`)
/// with the original bytes, so it can be inspected and sent again once fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RejectedIncident {
    /// The subject the message came on.
    pub subject: String,
    /// Why it was rejected.
    pub code: RejectionCode,
    /// What was wrong and what to do.
    pub reason: String,
    /// When whistle rejected it.
    pub rejected_at: DateTime<Utc>,
    /// The original payload, byte for byte, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The original payload as lower-case hex, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_hex: Option<String>,
}

impl RejectedIncident {
    /// Records `payload`, received on `subject`, as rejected at `at`.
    pub fn new(
        subject: &str,
        rejection: &IncidentRejection,
        payload: &[u8],
        at: DateTime<Utc>,
    ) -> Self {
        let (payload, payload_hex) = match std::str::from_utf8(payload) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(to_hex(payload))),
        };
        Self {
            subject: subject.to_owned(),
            code: rejection.code,
            reason: rejection.reason.clone(),
            rejected_at: at,
            payload,
            payload_hex,
        }
    }

    /// The original payload's bytes. `None` when the record holds neither `payload` nor a
    /// well-formed `payload_hex` (never the case for a record made by [`Self::new`]).
    pub fn original_payload(&self) -> Option<Vec<u8>> {
        match (&self.payload, &self.payload_hex) {
            (Some(text), _) => Some(text.as_bytes().to_vec()),
            (None, Some(hex)) => from_hex(hex),
            (None, None) => None,
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |d: u8| char::from(d).to_digit(16);
    digits
        .chunks_exact(2)
        .map(|pair| u8::try_from(nibble(pair[0])? * 16 + nibble(pair[1])?).ok())
        .collect()
}

/// Parses and checks an incident message received on `incidents.<subject_source>`.
///
/// Checks UTF-8 and JSON syntax (`bad_json`) and the shape (`schema`), then the values
/// (see [`IncidentMessage::validate`]). The first problem found is the one reported.
pub fn parse_incident(
    subject_source: &str,
    payload: &[u8],
) -> Result<ValidIncident, IncidentRejection> {
    let text = std::str::from_utf8(payload).map_err(|err| not_utf8(payload, &err))?;
    // Serde would also take the struct as an array of its fields; the contract is an object.
    let not_object = || {
        IncidentRejection::new(
            RejectionCode::Schema,
            "the message is not a JSON object: send one object as described by \
             schemas/incidents/IncidentMessage.schema.json",
        )
    };
    let is_object = text.trim_start().starts_with('{');
    let message = match serde_json::from_str::<IncidentMessage>(text) {
        Ok(message) if is_object => message,
        Ok(_) => return Err(not_object()),
        Err(err) if matches!(err.classify(), Kind::Syntax | Kind::Eof | Kind::Io) => {
            return Err(IncidentRejection::new(
                RejectionCode::BadJson,
                format!("the payload is not valid JSON: {err}; send one JSON object"),
            ));
        }
        Err(_) if !is_object => return Err(not_object()),
        Err(err) => {
            return Err(IncidentRejection::new(
                RejectionCode::Schema,
                format!(
                    "the message does not fit the incident schema: {err}; see \
                     schemas/incidents/IncidentMessage.schema.json"
                ),
            ));
        }
    };
    message.validate(subject_source)
}

fn not_utf8(payload: &[u8], err: &std::str::Utf8Error) -> IncidentRejection {
    let at = err.valid_up_to();
    let before = &payload[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = at - line_start + 1;
    let byte = payload.get(at).copied().unwrap_or_default();
    IncidentRejection::new(
        RejectionCode::BadJson,
        format!(
            "the payload is not UTF-8: byte 0x{byte:02x} at line {line} column {column} \
             (offset {at}); encode the JSON as UTF-8"
        ),
    )
}

impl IncidentMessage {
    /// Checks the message, received on `incidents.<subject_source>`, and gives its typed
    /// values. Checks, in order: `source` (`bad_id`), `source` against the subject
    /// (`source_mismatch`), `external_id` (`bad_id`), `occurred_at` (`schema`), fields that
    /// the action does not use (`schema`), then the action's own fields (`missing_field`,
    /// `unknown_category`, `bad_id`, `unknown_urgency`, `bad_text`). Whether the location
    /// exists in the jurisdiction tree is left to the service.
    pub fn validate(self, subject_source: &str) -> Result<ValidIncident, IncidentRejection> {
        let source = SourceSystem::parse(self.source)?;
        if source.as_str() != subject_source {
            return Err(IncidentRejection::new(
                RejectionCode::SourceMismatch,
                format!(
                    "the message says source `{source}` but came on `{INCIDENTS_PREFIX}.\
                     {subject_source}`: publish it on `{}`",
                    incident_subject(&source)
                ),
            ));
        }
        let external_id = ExternalId::parse(self.external_id)?;
        let occurred_at = self
            .occurred_at
            .map(|raw| {
                DateTime::parse_from_rfc3339(&raw)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|err| {
                        IncidentRejection::new(
                            RejectionCode::Schema,
                            format!(
                                "occurred_at `{raw}` is not an RFC 3339 time ({err}): write it \
                                 like `2026-07-21T07:42:00+08:00`"
                            ),
                        )
                    })
            })
            .transpose()?;

        if self.action == IncidentAction::Trigger {
            if self.note.is_some() {
                return Err(not_for(
                    "note",
                    self.action,
                    "a trigger's text goes in `description`",
                ));
            }
        } else {
            let trigger_only = [
                ("category", self.category.is_some()),
                ("location", self.location.is_some()),
                ("urgency", self.urgency.is_some()),
                ("description", self.description.is_some()),
                ("reporter", self.reporter.is_some()),
            ];
            if let Some((field, _)) = trigger_only.into_iter().find(|(_, present)| *present) {
                return Err(not_for(
                    field,
                    self.action,
                    "only a trigger sets it; send what changed in `note`",
                ));
            }
        }
        let request = match self.action {
            IncidentAction::Trigger => trigger(
                self.category,
                self.location,
                self.urgency,
                self.description,
                self.reporter,
            )?,
            IncidentAction::Update => {
                let note = self
                    .note
                    .ok_or_else(|| missing("note", "an update must say what is new, in `note`"))?;
                IncidentRequest::Update {
                    note: Text::note(note)?,
                }
            }
            IncidentAction::Resolve => IncidentRequest::Resolve {
                note: self.note.map(Text::note).transpose()?,
            },
        };
        let ticket = TicketId::for_external(&source, &external_id);
        Ok(ValidIncident {
            source,
            external_id,
            ticket,
            occurred_at,
            request,
        })
    }
}

fn trigger(
    category: Option<String>,
    location: Option<IncidentLocation>,
    urgency: Option<String>,
    description: Option<String>,
    reporter: Option<IncidentReporter>,
) -> Result<IncidentRequest, IncidentRejection> {
    let category = category.ok_or_else(|| {
        missing(
            "category",
            &format!(
                "a trigger must say what kind of problem it is, one of {}",
                codes(Category::ALL)
            ),
        )
    })?;
    let category = Category::deserialize(category.as_str().into_deserializer()).map_err(
        |_: serde::de::value::Error| {
            IncidentRejection::new(
                RejectionCode::UnknownCategory,
                format!(
                    "category `{category}` is not known: use one of {}",
                    codes(Category::ALL)
                ),
            )
        },
    )?;
    let location = location.ok_or_else(|| {
        missing(
            "location",
            "a trigger must say where, with `district`, `street` and `community` codes",
        )
    })?;
    let location = Location {
        district: DistrictId::parse(location.district)?,
        street: StreetId::parse(location.street)?,
        community: CommunityId::parse(location.community)?,
        grid: location.grid.map(GridId::parse).transpose()?,
        place: optional_text("location.place", location.place, MAX_PLACE_LEN)?,
    };
    let urgency = match urgency {
        None => Urgency::Minor,
        Some(raw) => Urgency::deserialize(raw.as_str().into_deserializer()).map_err(
            |_: serde::de::value::Error| {
                IncidentRejection::new(
                    RejectionCode::UnknownUrgency,
                    format!(
                        "urgency `{raw}` is not known: use one of {}, or leave it out for `minor`",
                        codes(URGENCIES)
                    ),
                )
            },
        )?,
    };
    let description = description.ok_or_else(|| {
        missing(
            "description",
            "a trigger must say what happened, in `description`",
        )
    })?;
    let reporter = reporter.unwrap_or_default();
    Ok(IncidentRequest::Trigger {
        location,
        category,
        urgency,
        description: Text::description(description)?,
        reporter: ReporterContact {
            name: optional_text("reporter.name", reporter.name, MAX_REPORTER_NAME_LEN)?,
            phone: optional_text("reporter.phone", reporter.phone, MAX_REPORTER_PHONE_LEN)?,
            address: optional_text(
                "reporter.address",
                reporter.address,
                MAX_REPORTER_ADDRESS_LEN,
            )?,
        },
    })
}

/// Every urgency tier, in order.
const URGENCIES: [Urgency; 4] = [
    Urgency::Minor,
    Urgency::Major,
    Urgency::Important,
    Urgency::Urgent,
];

/// The wire codes of `values`, as `` `a`, `b`, `c` ``.
fn codes<T: Serialize>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .filter_map(|v| match serde_json::to_value(v) {
            Ok(Value::String(code)) => Some(format!("`{code}`")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An optional free text: trimmed, blank counts as absent, at most `max` characters.
fn optional_text(
    field: &'static str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, IncidentRejection> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(Some(Text::parse(field, v, max)?.to_string())),
        _ => Ok(None),
    }
}

fn missing(field: &str, what: &str) -> IncidentRejection {
    IncidentRejection::new(
        RejectionCode::MissingField,
        format!("`{field}` is missing: {what}"),
    )
}

fn not_for(field: &str, action: IncidentAction, instead: &str) -> IncidentRejection {
    IncidentRejection::new(
        RejectionCode::Schema,
        format!("`{field}` is not used with action `{action}`: {instead}"),
    )
}

fn schema_of<T: JsonSchema>() -> Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null)
}

/// The JSON Schema of every incident message as `(file name, schema)`, in a stable order:
/// what publishers send, what they are answered, and what is kept of a rejected message.
/// The committed copies live in `schemas/incidents/`.
pub fn incident_schemas() -> Vec<(String, Value)> {
    vec![
        (
            "IncidentMessage.schema.json".to_owned(),
            schema_of::<IncidentMessage>(),
        ),
        (
            "IncidentAnswer.schema.json".to_owned(),
            schema_of::<IncidentAnswer>(),
        ),
        (
            "RejectedIncident.schema.json".to_owned(),
            schema_of::<RejectedIncident>(),
        ),
    ]
}
