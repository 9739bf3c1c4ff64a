//! The vocabulary of a complaint: where it is, what kind of problem, how urgent, and the
//! short texts people type. Text types are checked once, where they enter (commands and
//! incoming messages); events store what was accepted.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{CommunityId, DistrictId, ExternalId, GridId, SourceSystem, StreetId};

/// Where a complaint is, in the jurisdiction tree 区 → 街道 → 社区 → 网格 → 小区/院 → 楼栋.
/// Routing, permissions and statistics all follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Location {
    /// District (区).
    pub district: DistrictId,
    /// Street office (街道).
    pub street: StreetId,
    /// Community (社区).
    pub community: CommunityId,
    /// Grid (网格), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridId>,
    /// Residential compound (小区/院) and building (楼栋), as the resident said them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

/// The kind of problem, as the seeds collect them. Routing catalogues map each kind to the
/// departments that own it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 水电管网: water, power and pipe networks.
    WaterPowerPipes,
    /// 燃气: gas.
    Gas,
    /// 供暖: heating.
    Heating,
    /// 下水道: drains and flooding.
    Drains,
    /// 环境卫生: sanitation and rubbish.
    Sanitation,
    /// 背街小巷路灯: street lighting.
    StreetLighting,
    /// 社会治安: public security.
    PublicSecurity,
    /// 物业管理: property management.
    PropertyManagement,
    /// 车辆停放: parking.
    Parking,
    /// 噪音: noise.
    Noise,
    /// 房屋安全: building safety.
    BuildingSafety,
    /// 其他: anything else; the street decides whom to summon.
    Other,
}

impl Category {
    /// Every category, in a stable order.
    pub const ALL: [Self; 12] = [
        Self::WaterPowerPipes,
        Self::Gas,
        Self::Heating,
        Self::Drains,
        Self::Sanitation,
        Self::StreetLighting,
        Self::PublicSecurity,
        Self::PropertyManagement,
        Self::Parking,
        Self::Noise,
        Self::BuildingSafety,
        Self::Other,
    ];

    /// The name people use for it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::WaterPowerPipes => "水电管网",
            Self::Gas => "燃气",
            Self::Heating => "供暖",
            Self::Drains => "下水道",
            Self::Sanitation => "环境卫生",
            Self::StreetLighting => "背街小巷路灯",
            Self::PublicSecurity => "社会治安",
            Self::PropertyManagement => "物业管理",
            Self::Parking => "车辆停放",
            Self::Noise => "噪音扰民",
            Self::BuildingSafety => "房屋安全",
            Self::Other => "其他",
        }
    }
}

/// Urgency tier: "小事简议、大事细议、要事议妥、急事议决".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// 小事: routine.
    Minor,
    /// 大事: needs discussion.
    Major,
    /// 要事: important, settled carefully.
    Important,
    /// 急事: urgent, decided at once; may skip steps (e.g. whistle without a call-up).
    Urgent,
}

impl Urgency {
    /// The name people use for it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Minor => "小事",
            Self::Major => "大事",
            Self::Important => "要事",
            Self::Urgent => "急事",
        }
    }
}

/// How the complaint reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 12345 hotline operator.
    Hotline,
    /// Walk-in counter (邻里中心).
    WalkIn,
    /// A grid worker (网格员) found it on their round.
    GridWorker,
    /// The resident themselves, online.
    Online,
    /// Another system (hotline platform, IoT sensor, property company).
    ExternalSystem,
}

/// How to reach the resident. Personal data: it is shown masked ([`ReporterContact::masked`])
/// to every role that does not need to call the resident back, its `Debug` prints it masked
/// (so a stray `{:?}` in a log leaks nothing), and the ticket executor stores it sealed
/// ([`SealedContact`]) rather than as written here.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ReporterContact {
    /// Name, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Phone number, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Home address, as given (where to call on the resident).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl ReporterContact {
    /// Whether nothing was given: no name, no phone, no address.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.address.is_none()
    }

    /// The contact as roles that must not see it are shown it: the name's first character
    /// (`张**`), a phone's first 3 and last 4 characters (`138****1234`; a number shorter than
    /// 11 keeps its last 2 only, so a local landline is not all but given away), an address's
    /// first 6 characters then `****`. Works on characters, not bytes, so Chinese text is
    /// cut between characters. Whatever is short enough that keeping that much would show
    /// most of it keeps less (see the tests).
    pub fn masked(&self) -> ReporterContact {
        ReporterContact {
            name: self.name.as_deref().map(mask_name),
            phone: self.phone.as_deref().map(mask_phone),
            address: self.address.as_deref().map(mask_address),
        }
    }
}

/// `张三丰` → `张**`. A one-character name is masked whole: keeping it would keep all of it.
fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match (chars.next(), chars.count()) {
        (Some(first), hidden) if hidden > 0 => format!("{first}{}", "*".repeat(hidden)),
        (Some(_), _) => "*".to_owned(),
        (None, _) => String::new(),
    }
}

/// `13812341234` → `138****1234`; shorter numbers keep their last 2 characters, and one of
/// 2 characters or fewer is masked whole.
fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let (head, tail) = match chars.len() {
        n if n >= 11 => (3, 4),
        n if n > 2 => (0, 2),
        _ => (0, 0),
    };
    let hidden = chars.len() - head - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(hidden));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// The first 6 characters then `****` (a fixed mark, so the length is not told either).
/// An address of 6 characters or fewer keeps only its first half.
fn mask_address(address: &str) -> String {
    let len = address.chars().count();
    let keep = if len > 6 { 6 } else { len / 2 };
    let mut out: String = address.chars().take(keep).collect();
    out.push_str("****");
    out
}

impl fmt::Debug for ReporterContact {
    /// Masked, like [`ReporterContact::masked`]: Debug output ends up in logs and panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = self.masked();
        f.debug_struct("ReporterContact")
            .field("name", &masked.name)
            .field("phone", &masked.phone)
            .field("address", &masked.address)
            .finish()
    }
}

/// A [`ReporterContact`] encrypted with its ticket's own key (ChaCha20-Poly1305, the ticket
/// id as associated data, so a sealed contact copied onto another ticket does not open).
/// Erasing the ticket's key makes it unreadable for good while the event stays in the log
/// (crypto-shredding): events are never rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SealedContact {
    /// The nonce, base64 (standard alphabet, padded): 12 random bytes, fresh for every seal.
    pub nonce: String,
    /// The encrypted JSON of the [`ReporterContact`] with its authentication tag, base64.
    pub ciphertext: String,
}

/// The incident in another system this ticket came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExternalSource {
    /// The publishing system.
    pub system: SourceSystem,
    /// Its own id of the incident.
    pub external_id: ExternalId,
}

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but white space.
    #[error("{field} is empty: write what happened in a few words")]
    Empty {
        /// Which field.
        field: &'static str,
    },
    /// Longer than allowed.
    #[error("{field} has {len} characters, more than the {max} allowed: shorten it")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Holds a control character (NUL, escape…) other than line breaks and tabs.
    #[error(
        "{field} holds the control character U+{code:04X}; remove it (line breaks and tabs are fine)"
    )]
    ControlCharacter {
        /// Which field.
        field: &'static str,
        /// The character's code point.
        code: u32,
    },
}

/// A checked, trimmed, non-empty text of bounded length (a reason, a note, a description).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// Checks `value` for the field named `field`, allowing at most `max` characters.
    pub fn parse(
        field: &'static str,
        value: impl AsRef<str>,
        max: usize,
    ) -> Result<Self, TextError> {
        let trimmed = value.as_ref().trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty { field });
        }
        let len = trimmed.chars().count();
        if len > max {
            return Err(TextError::TooLong { field, len, max });
        }
        // A NUL cannot be stored by PostgreSQL at all, and no control character belongs in
        // what people read.
        if let Some(c) = trimmed
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(TextError::ControlCharacter {
                field,
                code: u32::from(c),
            });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A reason (for declining, reopening, an extension…): at most 500 characters.
    pub fn reason(value: impl AsRef<str>) -> Result<Self, TextError> {
        Self::parse("reason", value, 500)
    }

    /// A note or summary: at most 2,000 characters.
    pub fn note(value: impl AsRef<str>) -> Result<Self, TextError> {
        Self::parse("note", value, 2_000)
    }

    /// A complaint's description: at most 4,000 characters.
    pub fn description(value: impl AsRef<str>) -> Result<Self, TextError> {
        Self::parse("description", value, 4_000)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A resident's score of the outcome, 1 (very dissatisfied) to 5 (very satisfied).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct Score(u8);

/// A score outside 1..=5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("score {0} is outside 1..=5: 1 is very dissatisfied, 5 very satisfied")]
pub struct ScoreError(pub i64);

impl Score {
    /// Checks that `value` is 1..=5.
    pub fn parse(value: i64) -> Result<Self, ScoreError> {
        match u8::try_from(value) {
            Ok(v @ 1..=5) => Ok(Self(v)),
            _ => Err(ScoreError(value)),
        }
    }

    /// The score.
    pub fn get(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(
            Text::reason("  不属于本部门职责  ").map(|t| t.to_string()),
            Ok("不属于本部门职责".into())
        );
        assert_eq!(
            Text::reason(" \n"),
            Err(TextError::Empty { field: "reason" })
        );
        assert_eq!(
            Text::reason("长".repeat(501)),
            Err(TextError::TooLong {
                field: "reason",
                len: 501,
                max: 500
            })
        );
        assert_eq!(
            Text::note("堵塞\u{0}了"),
            Err(TextError::ControlCharacter {
                field: "note",
                code: 0
            })
        );
        assert!(Text::note("第一行\n第二行\t完").is_ok());
    }

    fn contact(name: &str, phone: &str, address: &str) -> ReporterContact {
        ReporterContact {
            name: Some(name.into()),
            phone: Some(phone.into()),
            address: Some(address.into()),
        }
    }

    #[test]
    fn a_masked_contact_keeps_only_what_identifies_no_one() {
        assert_eq!(
            contact("张三丰", "13812341234", "红旗里小区5号楼3单元201").masked(),
            contact("张**", "138****1234", "红旗里小区5****")
        );
        assert_eq!(
            contact("张女士", "+86 13812341234", "Flat 3, 5 Hongqi Lane").masked(),
            contact("张**", "+86********1234", "Flat 3****")
        );
    }

    #[test]
    fn short_values_are_masked_harder() {
        let m = contact("张", "62345678", "5号楼").masked();
        assert_eq!(m.name.as_deref(), Some("*"));
        assert_eq!(m.phone.as_deref(), Some("******78"));
        assert_eq!(m.address.as_deref(), Some("5****"));
        let m = contact("Li", "12", "").masked();
        assert_eq!(m.name.as_deref(), Some("L*"));
        assert_eq!(m.phone.as_deref(), Some("**"));
        assert_eq!(m.address.as_deref(), Some("****"));
        assert_eq!(
            ReporterContact::default().masked(),
            ReporterContact::default()
        );
    }

    #[test]
    fn debug_prints_a_contact_masked() {
        let debug = format!(
            "{:?}",
            contact("张三丰", "13812341234", "红旗里小区5号楼3单元")
        );
        assert!(debug.contains("138****1234"), "{debug}");
        assert!(!debug.contains("13812341234"), "{debug}");
        assert!(!debug.contains("三丰"), "{debug}");
        assert!(!debug.contains("3单元"), "{debug}");
    }

    #[test]
    fn an_address_is_optional_on_the_wire() {
        let old: ReporterContact =
            serde_json::from_str(r#"{"name":"张女士","phone":"13800001234"}"#).expect("JSON");
        assert_eq!(old.address, None);
        assert_eq!(
            serde_json::to_string(&old).expect("serializes"),
            r#"{"name":"张女士","phone":"13800001234"}"#
        );
        assert!(ReporterContact::default().is_empty());
        assert!(!old.is_empty());
    }

    #[test]
    fn scores_are_one_to_five() {
        assert_eq!(Score::parse(5).map(Score::get), Ok(5));
        assert_eq!(Score::parse(0), Err(ScoreError(0)));
        assert_eq!(Score::parse(6), Err(ScoreError(6)));
        assert_eq!(Score::parse(-1), Err(ScoreError(-1)));
    }
}
