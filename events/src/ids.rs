//! Typed identifiers.
//!
//! Every id is a newtype with a private field and a `parse` constructor, so a `StreetId` can
//! never be passed where a `CommunityId` is expected and no id exists that was not checked.
//! Serde goes through the same `parse`: an id read back from an event or a message is checked
//! exactly like one typed in by a person.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("{kind} is empty: give a code such as `{example}`")]
    Empty {
        /// Which kind of id.
        kind: &'static str,
        /// A valid example.
        example: &'static str,
    },
    /// The string is longer than ids may be.
    #[error(
        "{kind} `{value}` is longer than {max} characters: use the short code, such as `{example}`"
    )]
    TooLong {
        /// Which kind of id.
        kind: &'static str,
        /// The rejected value, cut to the limit.
        value: String,
        /// The limit.
        max: usize,
        /// A valid example.
        example: &'static str,
    },
    /// The string has a character outside `a-z 0-9 - _ .`.
    #[error(
        "{kind} `{value}` has the character {bad:?}: codes use lower-case ASCII letters, digits, `-` and `_`, such as `{example}`"
    )]
    BadCharacter {
        /// Which kind of id.
        kind: &'static str,
        /// The rejected value.
        value: String,
        /// The first offending character.
        bad: char,
        /// A valid example.
        example: &'static str,
    },
    /// The string is not a UUID.
    #[error("{kind} `{value}` is not a UUID (such as `{example}`)")]
    NotUuid {
        /// Which kind of id.
        kind: &'static str,
        /// The rejected value.
        value: String,
        /// A valid example.
        example: &'static str,
    },
}

/// The longest code a jurisdiction, department or person id may have.
pub const MAX_CODE_LEN: usize = 64;

fn check_code(kind: &'static str, example: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind, example });
    }
    if value.chars().count() > MAX_CODE_LEN {
        return Err(IdError::TooLong {
            kind,
            value: value.chars().take(MAX_CODE_LEN).collect(),
            max: MAX_CODE_LEN,
            example,
        });
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_')))
    {
        return Err(IdError::BadCharacter {
            kind,
            value: value.to_owned(),
            bad,
            example,
        });
    }
    Ok(())
}

/// Defines a code-like id: a short lower-case ASCII string chosen by whoever configures the
/// jurisdiction tree or the department list (`wenhualu`, `zhujian`). No `.`: codes are
/// tokens of NATS subjects, where `.` separates tokens.
macro_rules! code_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schemars(with = "String", extend("pattern" = "^[a-z0-9_-]{1,64}$", "examples" = [$example]))]
        pub struct $name(String);

        impl $name {
            /// Checks `value` and makes the id.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_code($kind, $example, &value)?;
                Ok(Self(value))
            }

            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

/// Defines a UUID id.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Parses the textual form of a UUID.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                Uuid::parse_str(value).map(Self).map_err(|_| IdError::NotUuid {
                    kind: $kind,
                    value: value.to_owned(),
                    example: "0190f1c2-7a7b-7cc3-9e1d-3c5d2a1b0f00",
                })
            }

            /// Wraps a UUID already in hand.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

code_id!(
    /// A district (区), the root of the jurisdiction tree, e.g. `haigang`.
    DistrictId, "district id", "haigang"
);
code_id!(
    /// A street office (街道), e.g. `wenhualu`.
    StreetId, "street id", "wenhualu"
);
code_id!(
    /// A community (社区) under a street, e.g. `hongqili`.
    CommunityId, "community id", "hongqili"
);
code_id!(
    /// A grid (网格) inside a community, e.g. `hongqili-03`.
    GridId, "grid id", "hongqili-03"
);
code_id!(
    /// A functional department or property company that can be summoned, e.g. `zhujian`.
    DepartmentId, "department id", "zhujian"
);
code_id!(
    /// A department liaison (部门联络员), the person who reports in for a department.
    LiaisonId, "liaison id", "zhujian-wang"
);
code_id!(
    /// Whoever issued a command: a person's account or a system's name.
    ActorId, "actor id", "hongqili-li"
);
code_id!(
    /// A system that publishes incidents (12345 hotline platform, sensors, property systems).
    SourceSystem, "source system", "hotline-12345"
);

uuid_id!(
    /// One ticket (工单): one resident's complaint, from intake to close.
    TicketId, "ticket id"
);
uuid_id!(
    /// One recorded event, unique across the whole log. Downstream deduplication
    /// (JetStream's `Nats-Msg-Id`) keys on it.
    EventId, "event id"
);
uuid_id!(
    /// Ties together every event caused by one original request, across tickets and services.
    CorrelationId, "correlation id"
);

impl TicketId {
    /// A fresh random ticket id, for complaints typed in by people.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The ticket id of an incident from another system: the same source and external id
    /// always give the same ticket, so a message delivered twice (inside or outside any
    /// deduplication window) lands on the same ticket forever.
    pub fn for_external(source: &SourceSystem, external_id: &ExternalId) -> Self {
        // The namespace is a fixed UUID of whistle's own; changing it would re-key every
        // external incident, so it is part of the event contract.
        const NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_4a0e_8f2c_4d7e_9a55_2c0f_9e61_b3d4);
        let name = format!("{}\u{1f}{}", source.as_str(), external_id.as_str());
        Self(Uuid::new_v5(&NAMESPACE, name.as_bytes()))
    }
}

impl EventId {
    /// A new time-ordered event id (UUIDv7).
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl CorrelationId {
    /// A new correlation id for a request that starts a chain.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for CorrelationId {
    fn default() -> Self {
        Self::new()
    }
}

/// The id another system gives its own incident (a PagerDuty-style dedup key). Free text up
/// to 200 characters, never empty, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct ExternalId(String);

impl ExternalId {
    /// Checks `value` and makes the id.
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        const EXAMPLE: &str = "12345-20260301-000123";
        if value.trim().is_empty() {
            return Err(IdError::Empty {
                kind: "external id",
                example: EXAMPLE,
            });
        }
        if value.chars().count() > 200 {
            return Err(IdError::TooLong {
                kind: "external id",
                value: value.chars().take(200).collect(),
                max: 200,
                example: EXAMPLE,
            });
        }
        if let Some(bad) = value.chars().find(|c| c.is_control()) {
            return Err(IdError::BadCharacter {
                kind: "external id",
                value,
                bad,
                example: EXAMPLE,
            });
        }
        Ok(Self(value))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExternalId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::parse(value)
    }
}

impl From<ExternalId> for String {
    fn from(id: ExternalId) -> String {
        id.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_accept_lower_case_ascii_and_reject_the_rest_with_a_reason() {
        assert_eq!(
            StreetId::parse("wenhualu").map(|s| s.to_string()),
            Ok("wenhualu".into())
        );
        assert!(matches!(StreetId::parse(""), Err(IdError::Empty { .. })));
        let err = CommunityId::parse("红旗里").expect_err("non-ASCII is rejected");
        assert!(
            err.to_string()
                .contains("community id `红旗里` has the character '红'"),
            "{err}"
        );
        assert!(matches!(
            DepartmentId::parse("a".repeat(65)),
            Err(IdError::TooLong { max: 64, .. })
        ));
        assert!(matches!(
            GridId::parse("Grid 1"),
            Err(IdError::BadCharacter { bad: 'G', .. })
        ));
        // A `.` would split a NATS subject token.
        assert!(matches!(
            StreetId::parse("wen.hua"),
            Err(IdError::BadCharacter { bad: '.', .. })
        ));
    }

    #[test]
    fn ids_deserialize_through_parse() {
        let ok: StreetId = serde_json::from_str("\"tongjiang\"").expect("valid id");
        assert_eq!(ok.as_str(), "tongjiang");
        let bad = serde_json::from_str::<StreetId>("\"Tong Jiang\"").expect_err("invalid id");
        assert!(bad.to_string().contains("street id `Tong Jiang`"), "{bad}");
    }

    #[test]
    fn external_tickets_have_stable_ids() {
        let source = SourceSystem::parse("hotline-12345").expect("valid");
        let a = ExternalId::parse("A-1").expect("valid");
        let b = ExternalId::parse("A-2").expect("valid");
        assert_eq!(
            TicketId::for_external(&source, &a),
            TicketId::for_external(&source, &a)
        );
        assert_ne!(
            TicketId::for_external(&source, &a),
            TicketId::for_external(&source, &b)
        );
        let other = SourceSystem::parse("iot-water").expect("valid");
        assert_ne!(
            TicketId::for_external(&source, &a),
            TicketId::for_external(&other, &a)
        );
        // Pinned (computed independently, with Python's uuid.uuid5 over the same namespace
        // and name): this id is part of the contract with every system that ever sent us
        // an incident. If it changes, existing incidents would open new tickets.
        assert_eq!(
            TicketId::for_external(&source, &a).to_string(),
            "085d61ca-4f2b-5adb-9ab2-284b0710a61e"
        );
        assert_eq!(
            TicketId::for_external(&source, &a)
                .as_uuid()
                .get_version_num(),
            5
        );
    }

    #[test]
    fn uuid_ids_reject_garbage() {
        let err = TicketId::parse("not-a-ticket").expect_err("garbage");
        assert!(
            err.to_string()
                .contains("ticket id `not-a-ticket` is not a UUID"),
            "{err}"
        );
    }
}
