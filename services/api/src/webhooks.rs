//! Webhooks for other systems: incident messages over HTTP (`POST /api/incidents`) and
//! Prometheus Alertmanager's notifications (`POST /api/alertmanager`).
//!
//! Both end in [`whistle_intake::Intake::accept`], the very decision intake makes for a
//! message on `incidents.<source>`: same schema, same trigger/update/resolve semantics,
//! same rejection codes, and the same ticket for the same source and external id (the id
//! derives from them), so a webhook sent twice lands once.
//!
//! - **Who**: an integration's API key (`X-Api-Key: wsk_…`, or in `Authorization` for
//!   senders that can set only that header, see [`Caller`]). A key publishes for one
//!   source: the key's name. Operators (bearer JWT) may relay incidents for any source.
//! - **Rejections**: answered as problem documents, and, when NATS is in use, kept on
//!   `rejected.incidents.<source>` (stream `REJECTED`) exactly as intake keeps the ones that
//!   came over NATS ([`whistle_intake::keep_rejected`]), so operators find every rejection
//!   in one place. Embedded, they are logged, without the payload (it may hold personal
//!   data).

use std::collections::BTreeMap;

use async_nats::jetstream;
use axum::Json;
use axum::body::{Body as RawBody, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use whistle_events::incident::{
    IncidentAnswer, IncidentRejection, MAX_PLACE_LEN, RejectedIncident, RejectionCode,
};
use whistle_events::subjects::UNKNOWN_TOKEN;
use whistle_events::{CommunityId, TicketId};
use whistle_intake::{IntakeConfig, keep_rejected, rejected_subject_under};
use whistle_routing::Catalogue;

use crate::access::{Duty, Target, authorize};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, Problem};
use crate::state::ApiState;

/// Every API key starts with this (see [`crate::auth::new_api_key`]); no JWT does (they
/// start with `eyJ`), which is how a key sent as `Authorization: Bearer` is told apart.
const API_KEY_PREFIX: &str = "wsk_";

/// The largest Alertmanager notification accepted. Larger than [`crate::BODY_LIMIT`]: a
/// group of alerts runs to about a kilobyte per alert, and Alertmanager resends a
/// notification it could not deliver, so one refused for its size would be refused forever.
/// The receiver's `max_alerts` keeps it under this (see `deploy/alertmanager/`).
pub const ALERTMANAGER_BODY_LIMIT: usize = 1024 * 1024;

/// The caller of a webhook: what [`Principal`] reads (`X-Api-Key`, a bearer JWT), and an
/// API key in the `Authorization` header, for senders that can set only that header
/// (Alertmanager's `http_config.authorization`): `Authorization: ApiKey <key>`, or
/// `Authorization: Bearer <key>`.
#[derive(Debug)]
pub struct Caller(pub Principal);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key("x-api-key")
            && let Some(key) = api_key_in_authorization(&parts.headers)
        {
            return state.auth.api_key(key).await.map(Self);
        }
        Principal::from_request_parts(parts, state).await.map(Self)
    }
}

/// The API key in `Authorization: ApiKey <key>` or `Authorization: Bearer wsk_…`.
fn api_key_in_authorization(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    let is_key = scheme.eq_ignore_ascii_case("apikey")
        || (scheme.eq_ignore_ascii_case("bearer") && credentials.starts_with(API_KEY_PREFIX));
    is_key.then_some(credentials)
}

/// This deployment's incident subjects on NATS, where a webhook's message would have been
/// published and where its rejection is kept.
#[derive(Debug, Clone)]
struct Subjects<'a> {
    /// Intake's subjects: `[<namespace>.]incidents` and `[<namespace>.]rejected`.
    config: &'a IntakeConfig,
}

impl<'a> Subjects<'a> {
    fn of(state: &'a ApiState) -> Self {
        Self {
            config: &state.intake_config,
        }
    }

    /// `[<namespace>.]incidents.<source>`.
    fn incident(&self, source: &str) -> String {
        format!("{}.{source}", self.config.subject_prefix)
    }

    /// `[<namespace>.]rejected.incidents.<source>`, as intake names it.
    fn rejected(&self, source: &str) -> String {
        rejected_subject_under(&self.config.rejected_prefix, source)
    }
}

/// Decides one incident message as intake decides it on NATS, `source` standing in for the
/// source token of the subject it would have come on.
async fn accept(
    state: &ApiState,
    subjects: &Subjects<'_>,
    source: &str,
    payload: &[u8],
) -> Result<IncidentAnswer, ApiError> {
    state
        .intake
        .accept(&subjects.incident(source), Some(source), payload)
        .await
        .map_err(ApiError::unavailable)
}

/// Keeps a rejection where rejections are kept: in `REJECTED` with NATS, in the log
/// (without the payload) embedded. Failing to keep it does not change the answer: the
/// sender is told the reason either way.
async fn keep(
    state: &ApiState,
    subjects: &Subjects<'_>,
    source: &str,
    rejection: &IncidentRejection,
    payload: &[u8],
) {
    let subject = subjects.incident(source);
    let code = rejection.code.as_str();
    // Serde quotes the offending value in a schema error, and it may be the reporter's
    // phone number: that reason is not logged.
    let reason = match rejection.code {
        RejectionCode::Schema => "(not logged: it may quote the payload)",
        _ => rejection.reason.as_str(),
    };
    let Some(client) = &state.nats else {
        tracing::info!(%subject, code, reason, "incident over HTTP rejected");
        return;
    };
    let record = RejectedIncident::new(&subject, rejection, payload, state.clock.now());
    let js = jetstream::new(client.clone());
    match keep_rejected(&js, subjects.rejected(source), &record).await {
        Ok(()) => tracing::info!(%subject, code, reason, "incident over HTTP rejected"),
        Err(error) => tracing::error!(
            %subject,
            code,
            error = format!("{error:#}"),
            "incident over HTTP rejected, and the rejection cannot be kept in REJECTED"
        ),
    }
}

/// An incident message, exactly as on NATS (`incidents.<source>`): its JSON Schema is
/// `schemas/incidents/IncidentMessage.schema.json`.
#[derive(Debug)]
pub struct IncidentMessageIn;

impl PartialSchema for IncidentMessageIn {
    fn schema() -> RefOr<Schema> {
        let example: Value = serde_json::from_str(include_str!(
            "../../../schemas/examples/incident.trigger.json"
        ))
        .unwrap_or(Value::Null);
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An incident message, the same as on NATS `incidents.<source>`; its full JSON Schema is schemas/incidents/IncidentMessage.schema.json. `source`, `external_id` and `action` (`trigger`, `update`, `resolve`) always; a trigger adds `category`, `location` {district, street, community, grid, place}, `description`, and optionally `urgency` and `reporter`; an update adds `note`, a resolve may. `occurred_at` is RFC 3339.",
            ))
            .examples([example])
            .into()
    }
}

impl ToSchema for IncidentMessageIn {
    fn name() -> std::borrow::Cow<'static, str> {
        "IncidentMessage".into()
    }
}

/// An incident recorded (or recorded already) on its ticket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncidentAcceptedOut {
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: String,
    /// The incident's ticket: the same for every message of one source and external id.
    #[schema(value_type = String, format = Uuid)]
    pub ticket_id: TicketId,
}

/// Publish an incident from another system, as on NATS `incidents.<source>`.
///
/// The message and its semantics are those of NATS: `trigger` opens the ticket (or lands
/// on the one already open: the ticket id derives from `source` and `external_id`),
/// `update` adds the source's note, `resolve` says the incident is over at the source and
/// resolves the ticket when no department is at work on it yet. Sending a message again is
/// harmless.
///
/// An integration's API key publishes for one source, the key's name: a message naming
/// another source is rejected (`source_mismatch`). Operators may relay incidents for any
/// source. A rejection answers 422 with the rejection code as `code` and the reason as
/// `detail` (400 `bad_json` for a body that is not UTF-8 JSON), and is kept in the
/// `REJECTED` stream with the message, as for NATS.
#[utoipa::path(
    post, path = "/api/incidents", tag = "intake",
    request_body(content = IncidentMessageIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded on this ticket (or recorded already)", body = IncidentAcceptedOut),
        (status = 400, description = "Not UTF-8 JSON (`bad_json`)", body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 422, description = "Rejected: `code` is the rejection code (`schema`, `source_mismatch`, `bad_id`, `missing_field`, `unknown_category`, `unknown_urgency`, `bad_text`, `unknown_location`, `unknown_incident`, `ticket_closed`, `unprocessable`), `detail` says what to fix", body = Problem),
        (status = 503, body = Problem),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn publish_incident(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IncidentAcceptedOut>, ApiError> {
    authorize(
        &principal,
        Duty::PublishIncident,
        Target::Anywhere,
        &state.catalogue,
    )?;
    let payload = body.map_err(unreadable)?;
    let source = source_token(&principal, &payload);
    let subjects = Subjects::of(&state);
    let answer = accept(&state, &subjects, &source, &payload).await?;
    match for_this_key(answer, &principal, &payload) {
        IncidentAnswer::Accepted { ticket_id } => Ok(Json(IncidentAcceptedOut {
            status: "accepted".to_owned(),
            ticket_id,
        })),
        IncidentAnswer::Rejected { code, reason } => {
            let rejection = IncidentRejection::new(code, reason);
            keep(&state, &subjects, &source, &rejection, &payload).await;
            Err(match code {
                RejectionCode::BadJson => ApiError::bad_request(code.as_str(), rejection.reason),
                _ => ApiError::unprocessable(code.as_str(), rejection.reason),
            })
        }
    }
}

/// The source a message is published for: an integration's own (its key's name); for an
/// operator, whatever source the message names.
fn source_token(principal: &Principal, payload: &[u8]) -> String {
    match principal.role {
        Role::Integration => principal.subject.clone(),
        _ => said_source(payload).unwrap_or_else(|| UNKNOWN_TOKEN.to_owned()),
    }
}

/// The `source` a message says, if it is JSON with a string there.
fn said_source(payload: &[u8]) -> Option<String> {
    let message: Value = serde_json::from_slice(payload).ok()?;
    message.get("source")?.as_str().map(str::to_owned)
}

/// Intake's `source_mismatch` reason speaks of NATS subjects; over HTTP the source is the
/// API key's, so the reason says that.
fn for_this_key(answer: IncidentAnswer, principal: &Principal, payload: &[u8]) -> IncidentAnswer {
    match answer {
        IncidentAnswer::Rejected {
            code: RejectionCode::SourceMismatch,
            ..
        } if principal.role == Role::Integration => {
            let key = &principal.subject;
            let said = said_source(payload).unwrap_or_default();
            IncidentAnswer::Rejected {
                code: RejectionCode::SourceMismatch,
                reason: format!(
                    "this API key is `{key}`'s and publishes incidents for source `{key}` only, but the message says source `{said}`: send it with the key of `{said}`, or correct `source`"
                ),
            }
        }
        other => other,
    }
}

fn unreadable(rejection: BytesRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "body_too_large",
            format!(
                "the body is larger than {} bytes; send one incident per request",
                crate::BODY_LIMIT
            ),
        )
    } else {
        ApiError::new(
            status,
            "unreadable_body",
            format!("{}; send the request again", rejection.body_text()),
        )
    }
}

/// A notification of Alertmanager's webhook receiver (version `4`). Fields whistle does
/// not use are read and ignored, so a newer Alertmanager's additions do no harm.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerIn {
    /// `4`.
    #[serde(default)]
    #[schema(example = "4")]
    pub version: Option<String>,
    /// The group's key in Alertmanager.
    #[serde(default)]
    pub group_key: Option<String>,
    /// `firing` when any alert of the group fires, else `resolved`.
    #[serde(default)]
    pub status: Option<String>,
    /// The receiver's name.
    #[serde(default)]
    pub receiver: Option<String>,
    /// The labels the group is made by.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert of the group has.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert of the group has.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Alertmanager's address.
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
    /// Alerts left out by the receiver's `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: Option<u64>,
    /// The alerts; each becomes one incident message.
    pub alerts: Vec<AlertIn>,
}

/// One alert of a notification.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertIn {
    /// `firing` or `resolved`.
    #[schema(example = "firing")]
    pub status: String,
    /// The alert's labels (see the label contract on `POST /api/alertmanager`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// When it stopped (RFC 3339; a zero time while firing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// Where the alert came from (the rule's expression in Prometheus).
    #[serde(
        default,
        rename = "generatorURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub generator_url: Option<String>,
    /// Alertmanager's id of the alert's label set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What became of one alert.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertOutcomeOut {
    /// The alert's fingerprint (for an alert without one, the hash of its labels that
    /// stands in for it).
    pub fingerprint: String,
    /// `accepted` or `rejected`.
    #[schema(example = "accepted")]
    pub status: String,
    /// The incident's external id: `<fingerprint>@<startsAt>`.
    pub external_id: String,
    /// The alert's ticket, when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub ticket_id: Option<TicketId>,
    /// The rejection code, when rejected (the same codes as incident messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What was wrong with the alert and what to change, when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Receive Prometheus Alertmanager's notifications (webhook receiver, version 4).
///
/// Each alert becomes an incident message from the source named by the API key (an
/// integration's key only) and goes through intake as if published on
/// `incidents.<source>`: a firing alert is a `trigger`, a resolved one a `resolve`. The
/// external id is `<fingerprint>@<startsAt>`: Alertmanager's notifications, sent again
/// and again while an alert fires, land on one ticket, its resolution resolves that ticket,
/// and the same alert firing again later is a new problem with a ticket of its own (rather
/// than a silent no-op on a ticket already resolved). An alert without a fingerprint uses a
/// hash of its labels instead.
///
/// The label contract (set these in the alerting rule, or with Alertmanager's routing):
/// - label `whistle_category` (required when firing): the kind of problem, e.g. `drains`.
/// - label `whistle_community` (required when firing): the community (社区) code; the
///   street and district follow from the jurisdiction tree.
/// - label `whistle_grid` (optional): the grid (网格) code.
/// - label `whistle_urgency` (optional): `minor`, `major`, `important` or `urgent`; else
///   label `severity`: `critical` → `urgent`, `warning` → `major`, `info` → `minor`, any
///   other → `minor`.
/// - annotations `summary` and `description`: what happened (both, one under the other;
///   else the label `alertname`), cut to 4,000 characters.
/// - annotation `whistle_place` (optional): the compound and building, free text.
///
/// The answer is 200 with one outcome per alert, in order: `accepted` with the ticket, or
/// `rejected` with the code and reason (a rejected alert is kept in the `REJECTED` stream,
/// as a rejected incident message is). The whole request fails only for malformed JSON
/// (400), credentials (401, 403), or when the event store cannot be reached (503:
/// Alertmanager sends it again, which is harmless).
#[utoipa::path(
    post, path = "/api/alertmanager", tag = "intake",
    request_body = AlertmanagerIn,
    responses(
        (status = 200, description = "One outcome per alert, in order", body = Vec<AlertOutcomeOut>),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem),
    ),
    security(("api_key" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn alertmanager(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    body: RawBody,
) -> Result<Json<Vec<AlertOutcomeOut>>, ApiError> {
    authorize(
        &principal,
        Duty::PublishIncident,
        Target::Anywhere,
        &state.catalogue,
    )?;
    if principal.role != Role::Integration {
        return Err(ApiError::forbidden(
            "api_key_required",
            "Alertmanager's alerts are published with an integration's API key, whose name is their source; create one with `whistle api-key create --name <source>`",
        ));
    }
    let payload = axum::body::to_bytes(body, ALERTMANAGER_BODY_LIMIT)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the notification is larger than {ALERTMANAGER_BODY_LIMIT} bytes; lower the receiver's `max_alerts`"
                ),
            )
        })?;
    let notification: AlertmanagerIn = serde_json::from_slice(&payload).map_err(|e| {
        if e.is_data() {
            ApiError::unprocessable(
                "invalid_body",
                format!("{e}; send Alertmanager's webhook notification (version 4)"),
            )
        } else {
            ApiError::bad_request(
                "malformed_body",
                format!("the body is not JSON: {e}; send Alertmanager's webhook notification"),
            )
        }
    })?;
    let source = principal.subject.as_str();
    let subjects = Subjects::of(&state);
    let mut outcomes = Vec::with_capacity(notification.alerts.len());
    for alert in &notification.alerts {
        let fingerprint = fingerprint_of(alert);
        let external_id = external_id_of(alert, &fingerprint);
        let answer = match incident_of(alert, source, &external_id, &state.catalogue) {
            Ok(message) => {
                let message = serde_json::to_vec(&message).map_err(ApiError::internal)?;
                let answer = accept(&state, &subjects, source, &message).await?;
                if let IncidentAnswer::Rejected { code, reason } = &answer {
                    let rejection = IncidentRejection::new(*code, reason.clone());
                    keep(&state, &subjects, source, &rejection, &message).await;
                }
                answer
            }
            Err(rejection) => {
                // No message could be made of it: the alert itself is kept.
                let alert_json = serde_json::to_vec(alert).map_err(ApiError::internal)?;
                keep(&state, &subjects, source, &rejection, &alert_json).await;
                rejection.into()
            }
        };
        outcomes.push(match answer {
            IncidentAnswer::Accepted { ticket_id } => AlertOutcomeOut {
                fingerprint,
                status: "accepted".to_owned(),
                external_id,
                ticket_id: Some(ticket_id),
                code: None,
                reason: None,
            },
            IncidentAnswer::Rejected { code, reason } => AlertOutcomeOut {
                fingerprint,
                status: "rejected".to_owned(),
                external_id,
                ticket_id: None,
                code: Some(code.as_str().to_owned()),
                reason: Some(reason),
            },
        });
    }
    Ok(Json(outcomes))
}

/// The longest description an incident takes (`Text::description`).
const MAX_DESCRIPTION_LEN: usize = 4_000;

/// The alert's fingerprint, or the hex SHA-256 (first 16 bytes) of its labels when it has
/// none (Alertmanager before 0.19).
fn fingerprint_of(alert: &AlertIn) -> String {
    if let Some(fingerprint) = alert
        .fingerprint
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        return fingerprint.to_owned();
    }
    // The labels are a BTreeMap: the same set always encodes to the same bytes.
    let labels = serde_json::to_vec(&alert.labels).unwrap_or_default();
    Sha256::digest(&labels)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<fingerprint>@<startsAt in UTC>`; the fingerprint alone when `startsAt` is missing.
fn external_id_of(alert: &AlertIn, fingerprint: &str) -> String {
    match instant(alert.starts_at.as_deref()) {
        Some(at) => format!(
            "{fingerprint}@{}",
            at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        None => fingerprint.to_owned(),
    }
}

/// An RFC 3339 time, `None` for Go's zero time (Alertmanager's "not set").
fn instant(raw: Option<&str>) -> Option<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(raw?.trim()).ok()?;
    let at = at.with_timezone(&Utc);
    (at.timestamp() > 0).then_some(at)
}

fn non_blank<'a>(map: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    map.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The incident message an alert stands for, or why none can be made of it.
fn incident_of(
    alert: &AlertIn,
    source: &str,
    external_id: &str,
    catalogue: &Catalogue,
) -> Result<Value, IncidentRejection> {
    let labels = &alert.labels;
    let annotations = &alert.annotations;
    match alert.status.trim() {
        "firing" => {}
        "resolved" => {
            let mut message = json!({
                "source": source, "external_id": external_id, "action": "resolve",
            });
            if let Some(ended) = instant(alert.ends_at.as_deref()) {
                message["note"] = json!(format!(
                    "Alertmanager: the alert was resolved at {}",
                    ended.to_rfc3339_opts(SecondsFormat::Secs, true)
                ));
            }
            return Ok(message);
        }
        other => {
            return Err(IncidentRejection::new(
                RejectionCode::Schema,
                format!("the alert's status is `{other}`, neither `firing` nor `resolved`"),
            ));
        }
    }
    let needs = |label: &str, what: &str| {
        IncidentRejection::new(
            RejectionCode::MissingField,
            format!("the alert has no label `{label}`: {what}; set it in the alerting rule"),
        )
    };
    let category = non_blank(labels, "whistle_category").ok_or_else(|| {
        needs(
            "whistle_category",
            "whistle needs the kind of problem, e.g. `drains`",
        )
    })?;
    let community = non_blank(labels, "whistle_community").ok_or_else(|| {
        needs(
            "whistle_community",
            "whistle needs the community (社区) code of where the problem is",
        )
    })?;
    let community = CommunityId::parse(community)?;
    let location = catalogue.location_of(&community).ok_or_else(|| {
        IncidentRejection::new(
            RejectionCode::UnknownLocation,
            format!(
                "label `whistle_community` is `{community}`, which is not a community of the jurisdiction tree; see /api/jurisdiction for the codes"
            ),
        )
    })?;
    let mut place = json!({
        "district": location.district.as_str(),
        "street": location.street.as_str(),
        "community": location.community.as_str(),
    });
    if let Some(grid) = non_blank(labels, "whistle_grid") {
        place["grid"] = json!(grid);
    }
    if let Some(where_) = non_blank(annotations, "whistle_place") {
        place["place"] = json!(cut(where_, MAX_PLACE_LEN));
    }
    let summary = non_blank(annotations, "summary");
    let details = non_blank(annotations, "description");
    let description = match (summary, details) {
        (Some(s), Some(d)) if s != d => format!("{s}\n{d}"),
        (Some(s), _) => s.to_owned(),
        (None, Some(d)) => d.to_owned(),
        (None, None) => non_blank(labels, "alertname")
            .ok_or_else(|| {
                IncidentRejection::new(
                    RejectionCode::MissingField,
                    "the alert has no annotation `summary` or `description` and no label `alertname`: whistle needs to say what happened; add a `summary` annotation to the alerting rule",
                )
            })?
            .to_owned(),
    };
    let mut message = json!({
        "source": source,
        "external_id": external_id,
        "action": "trigger",
        "category": category,
        "location": place,
        "description": cut(&description, MAX_DESCRIPTION_LEN),
    });
    let urgency = non_blank(labels, "whistle_urgency").or_else(|| {
        match non_blank(labels, "severity")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("critical") => Some("urgent"),
            Some("warning") => Some("major"),
            _ => None,
        }
    });
    if let Some(urgency) = urgency {
        message["urgency"] = json!(urgency);
    }
    if let Some(started) = instant(alert.starts_at.as_deref()) {
        message["occurred_at"] = json!(started.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(status: &str, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> AlertIn {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        AlertIn {
            status: status.to_owned(),
            labels: map(labels),
            annotations: map(annotations),
            starts_at: Some("2026-07-21T07:42:00.123+08:00".to_owned()),
            ends_at: Some("0001-01-01T00:00:00Z".to_owned()),
            generator_url: None,
            fingerprint: Some("5f8e1c2a9b3d4e6f".to_owned()),
        }
    }

    const LABELS: [(&str, &str); 4] = [
        ("alertname", "DrainLevelHigh"),
        ("whistle_category", "drains"),
        ("whistle_community", "hongqili"),
        ("severity", "critical"),
    ];

    #[test]
    fn a_firing_alert_is_a_trigger_located_by_its_community() {
        let alert = alert(
            "firing",
            &LABELS,
            &[
                ("summary", "雨水井液位过高"),
                ("whistle_place", "红旗里小区 3号楼"),
            ],
        );
        let fingerprint = fingerprint_of(&alert);
        let external_id = external_id_of(&alert, &fingerprint);
        assert_eq!(external_id, "5f8e1c2a9b3d4e6f@2026-07-20T23:42:00Z");
        let message =
            incident_of(&alert, "prometheus", &external_id, &Catalogue::demo()).expect("a message");
        assert_eq!(message["action"], "trigger");
        assert_eq!(message["urgency"], "urgent");
        assert_eq!(message["location"]["street"], "wenhualu");
        assert_eq!(message["location"]["district"], "haigang");
        assert_eq!(message["location"]["place"], "红旗里小区 3号楼");
        assert_eq!(message["description"], "雨水井液位过高");
        assert_eq!(message["occurred_at"], "2026-07-20T23:42:00Z");
        let payload = serde_json::to_vec(&message).expect("json");
        let parsed = whistle_events::incident::parse_incident("prometheus", &payload)
            .expect("the message is a valid incident");
        assert_eq!(parsed.external_id().as_str(), external_id);
    }

    #[test]
    fn a_resolved_alert_is_a_resolve_with_the_same_external_id() {
        let firing = alert("firing", &LABELS, &[]);
        let mut resolved = alert("resolved", &LABELS, &[]);
        resolved.ends_at = Some("2026-07-21T09:00:00+08:00".to_owned());
        let id = |a: &AlertIn| external_id_of(a, &fingerprint_of(a));
        assert_eq!(id(&firing), id(&resolved));
        let message = incident_of(&resolved, "prometheus", &id(&resolved), &Catalogue::demo())
            .expect("a message");
        assert_eq!(message["action"], "resolve");
        assert!(message.get("category").is_none());
        assert!(
            message["note"]
                .as_str()
                .is_some_and(|n| n.contains("01:00:00Z"))
        );
    }

    #[test]
    fn missing_labels_and_unknown_communities_are_named() {
        let catalogue = Catalogue::demo();
        let no_category = alert("firing", &[("whistle_community", "hongqili")], &[]);
        let rejection = incident_of(&no_category, "p", "x", &catalogue).expect_err("rejected");
        assert_eq!(rejection.code, RejectionCode::MissingField);
        assert!(rejection.reason.contains("whistle_category"));
        let nowhere = alert(
            "firing",
            &[
                ("whistle_category", "drains"),
                ("whistle_community", "nowhere"),
            ],
            &[("summary", "s")],
        );
        let rejection = incident_of(&nowhere, "p", "x", &catalogue).expect_err("rejected");
        assert_eq!(rejection.code, RejectionCode::UnknownLocation);
        let odd = alert("pending", &LABELS, &[]);
        assert_eq!(
            incident_of(&odd, "p", "x", &catalogue)
                .expect_err("rejected")
                .code,
            RejectionCode::Schema
        );
    }

    #[test]
    fn an_alert_without_a_fingerprint_is_known_by_its_labels() {
        let mut one = alert("firing", &LABELS, &[]);
        one.fingerprint = None;
        let mut same = alert("firing", &LABELS, &[("summary", "other text")]);
        same.fingerprint = Some(String::new());
        assert_eq!(fingerprint_of(&one), fingerprint_of(&same));
        assert_eq!(fingerprint_of(&one).len(), 32);
        let other = alert("firing", &LABELS[..3], &[]);
        let mut other = other;
        other.fingerprint = None;
        assert_ne!(fingerprint_of(&one), fingerprint_of(&other));
    }

    #[test]
    fn an_api_key_is_read_from_authorization() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "ApiKey wsk_abc".parse().expect("value"),
        );
        assert_eq!(api_key_in_authorization(&headers), Some("wsk_abc"));
        headers.insert(
            header::AUTHORIZATION,
            "Bearer wsk_abc".parse().expect("value"),
        );
        assert_eq!(api_key_in_authorization(&headers), Some("wsk_abc"));
        headers.insert(
            header::AUTHORIZATION,
            "Bearer eyJhbGciOi".parse().expect("value"),
        );
        assert_eq!(api_key_in_authorization(&headers), None);
    }
}
