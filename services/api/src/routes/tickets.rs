//! Intake (complaints, receipts, ratings) and reading tickets (lists, details,
//! timelines, clocks).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use whistle_events::ticket::Received;
use whistle_events::{
    Category, Channel, CommunityId, DepartmentId, EventMetadata, GridId, ReporterContact, Score,
    StreetId, Text, TicketId, Urgency,
};
use whistle_ticket::{SummonsState, TicketCommand};

use crate::access::{Duty, Target, authorize, sees};
use crate::auth::{Principal, Role};
use crate::contact::{ContactOut, contact_for};
use crate::error::{ApiError, Problem};
use crate::state::{ApiState, Body, Loaded, MaybePrincipal, Params, Segments, parse_id};

/// A complaint, as a resident, operator or grid worker submits it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintIn {
    /// The kind of problem (see `GET /open311/v2/services.json` for the list).
    #[schema(value_type = String, example = "property_management")]
    pub category: Category,
    /// The community (社区) where the problem is; the street and district follow from
    /// the jurisdiction tree.
    #[schema(value_type = String, example = "hongqili")]
    pub community: String,
    /// The grid (网格), when known.
    #[serde(default)]
    pub grid: Option<String>,
    /// The compound and building, as the resident says them.
    #[serde(default)]
    #[schema(example = "红旗里小区 3号楼")]
    pub place: Option<String>,
    /// What happened, in the resident's words.
    #[schema(example = "楼道灯坏了一个星期，晚上老人上下楼很危险")]
    pub description: String,
    /// How urgent (`minor`, `major`, `important`, `urgent`); default `minor`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "minor")]
    pub urgency: Option<Urgency>,
    /// The resident's contact (personal data: encrypted at rest, masked for most roles).
    #[serde(default)]
    pub contact: Option<ContactIn>,
}

/// How to reach the resident.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    /// Name.
    #[schema(example = "李女士")]
    pub name: Option<String>,
    /// Phone number.
    #[schema(example = "13800001234")]
    pub phone: Option<String>,
    /// Address.
    #[schema(example = "红旗里小区 3号楼 2单元 501")]
    pub address: Option<String>,
}

/// What the submitter is given: the ticket and the resident's receipt token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptOut {
    /// The ticket.
    #[schema(value_type = String, format = Uuid)]
    pub ticket: TicketId,
    /// Give this to the resident: it follows and rates the complaint.
    pub receipt_token: String,
    /// Where the resident follows it.
    pub follow: String,
}

fn text_of(field: &'static str, value: String, max: usize) -> Result<Text, ApiError> {
    Text::parse(field, value, max)
        .map_err(|e| ApiError::unprocessable("invalid_text", e.to_string()))
}

fn text(field: &'static str, value: String, long: bool) -> Result<Text, ApiError> {
    let parsed = if long {
        Text::description(value)
    } else {
        Text::note(value)
    };
    parsed.map_err(|e| ApiError::unprocessable("invalid_text", format!("{field}: {e}")))
}

fn channel_of(principal: Option<&Principal>) -> Channel {
    match principal.map(|p| p.role) {
        Some(Role::Operator) => Channel::Hotline,
        Some(Role::GridWorker) => Channel::GridWorker,
        Some(Role::Community) => Channel::WalkIn,
        _ => Channel::Online,
    }
}

/// Submit a complaint (public: residents need no account, and are rate-limited).
#[utoipa::path(
    post, path = "/api/complaints", tag = "intake",
    request_body = ComplaintIn,
    responses(
        (status = 201, description = "Received", body = ReceiptOut),
        (status = 400, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 429, body = Problem), (status = 503, body = Problem),
    ),
    security((), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn submit_complaint(
    State(state): State<ApiState>,
    MaybePrincipal(principal): MaybePrincipal,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(complaint): Body<ComplaintIn>,
) -> Result<(StatusCode, Json<ReceiptOut>), ApiError> {
    match &principal {
        Some(p) => authorize(p, Duty::SubmitComplaint, Target::Anywhere, &state.catalogue)?,
        None => state
            .limiter
            .take(peer.ip(), std::time::Instant::now())
            .map_err(|wait| ApiError::too_many(wait.as_secs().max(1)))?,
    }
    let community: CommunityId = parse_id("community", &complaint.community)?;
    let Some(mut location) = state.catalogue.location_of(&community) else {
        return Err(ApiError::unprocessable(
            "unknown_location",
            format!(
                "no community `{community}` in the jurisdiction tree; see /api/jurisdiction for the list"
            ),
        ));
    };
    if let Some(p) = &principal
        && p.role != Role::Operator
    {
        // Grid workers and community workers type in complaints of their own community.
        authorize(
            p,
            Duty::SubmitComplaint,
            Target::Community(&community),
            &state.catalogue,
        )?;
    }
    location.grid = match complaint.grid.as_deref().map(str::trim) {
        Some(g) if !g.is_empty() => Some(parse_id::<GridId>("grid", g)?),
        _ => None,
    };
    location.place = match complaint.place.filter(|p| !p.trim().is_empty()) {
        Some(place) => Some(text_of("place", place, 200)?.to_string()),
        None => None,
    };
    let contact = complaint.contact.unwrap_or_default();
    let clean = |v: Option<String>| {
        v.map(|s| s.trim().chars().take(200).collect::<String>())
            .filter(|s| !s.is_empty())
    };
    let phone = clean(contact.phone);
    if let Some(phone) = &phone {
        check_phone(phone)?;
    }
    let received = Received {
        channel: channel_of(principal.as_ref()),
        reporter: ReporterContact {
            name: clean(contact.name),
            phone,
            address: clean(contact.address),
        },
        location,
        category: complaint.category,
        urgency: complaint.urgency.unwrap_or(Urgency::Minor),
        description: text("description", complaint.description, true)?,
        source: None,
        sealed_reporter: None,
    };
    let actor = match &principal {
        Some(p) => p.actor().clone(),
        None => parse_id("actor", "resident")?,
    };
    let (ticket, token) = receive(&state, actor, received).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReceiptOut {
            ticket,
            follow: format!("/api/receipts/{token}"),
            receipt_token: token,
        }),
    ))
}

/// Records a complaint typed in by a person (the form, Open311) under a new ticket id,
/// and gives the ticket and the resident's receipt token.
pub async fn receive(
    state: &ApiState,
    actor: whistle_events::ActorId,
    received: Received,
) -> Result<(TicketId, String), ApiError> {
    let ticket = TicketId::new_random();
    state
        .tickets
        .execute(
            ticket,
            TicketCommand::Receive(received),
            &EventMetadata::by(actor),
        )
        .await?;
    Ok((ticket, state.receipts.token(&ticket)?))
}

/// A telephone number someone can call back: digits, with the usual separators (an
/// extension after `#`, brackets half- or full-width), 5 to 20 digits in all (a mobile, a
/// landline with its area code, an extension).
fn check_phone(phone: &str) -> Result<(), ApiError> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let separators_only = phone.chars().all(|c| {
        c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '#' | '（' | '）')
    });
    if separators_only && (5..=20).contains(&digits) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_phone",
            format!(
                "contact.phone={phone:?} is not a telephone number to call back; write its digits, e.g. 13812345678 or 0335-3051234, or leave it out"
            ),
        ))
    }
}

/// What a resident sees of their complaint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FollowOut {
    /// The ticket.
    #[schema(value_type = String, format = Uuid)]
    pub ticket: TicketId,
    /// Where it stands.
    pub stage: String,
    /// Where it stands, in Chinese.
    pub stage_zh: String,
    /// The kind of problem.
    #[schema(value_type = String)]
    pub category: Category,
    /// What they said.
    pub description: String,
    /// What happened so far, oldest first (no staff names, no personal data).
    pub steps: Vec<StepOut>,
    /// When the ticket is due to be finished, under its SLA policy.
    pub expected_by: Option<DateTime<Utc>>,
    /// Whether the resident can rate it now (resolved, and not rated yet this round).
    pub can_rate: bool,
    /// The resident's rating of the current round, once given.
    pub rating: Option<RatingIn>,
}

/// One step of a ticket's life, as a resident sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepOut {
    /// When.
    pub at: DateTime<Utc>,
    /// What (the event type).
    pub what: String,
    /// What the resident was told at this step, when anything: the community's reply or
    /// plan, an extension's reason, the summary of what was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub told: Option<String>,
}

/// What a resident is told by an event, if anything.
fn told(event: &whistle_events::TicketEvent) -> Option<String> {
    use whistle_events::TicketEvent as E;
    match event {
        E::Acknowledged(e) => Some(e.reply.to_string()),
        E::HandledLocally(e) => Some(e.plan.to_string()),
        E::ExtensionApproved(e) => Some(e.reason.to_string()),
        E::Resolved(e) => Some(e.summary.to_string()),
        _ => None,
    }
}

/// Follow a complaint by its receipt token.
#[utoipa::path(
    get, path = "/api/receipts/{token}", tag = "intake",
    params(("token" = String, Path, description = "The receipt token")),
    responses((status = 400, body = Problem), (status = 200, body = FollowOut), (status = 404, body = Problem)),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn follow(
    State(state): State<ApiState>,
    Segments(token): Segments<String>,
) -> Result<Json<FollowOut>, ApiError> {
    let id = state.receipts.open(&token)?;
    let loaded = state.load_ticket(&id.to_string()).await?;
    let timeline = state.tickets.timeline(id).await?;
    let received = loaded
        .ticket
        .received()
        .ok_or_else(|| ApiError::no_ticket(id))?;
    let stage = loaded.ticket.stage();
    let expected_by = completion_due(&state, &id).await?;
    Ok(Json(FollowOut {
        ticket: id,
        stage: stage_name(stage).to_owned(),
        stage_zh: stage_zh(stage).to_owned(),
        category: received.category,
        description: received.description.to_string(),
        steps: timeline
            .iter()
            .filter(|e| resident_sees(e.event.kind().name))
            .map(|e| StepOut {
                at: e.recorded_at,
                what: e.event.kind().name.to_owned(),
                told: told(&e.event),
            })
            .collect(),
        expected_by,
        can_rate: stage == whistle_ticket::Stage::Resolved && loaded.ticket.feedback().is_none(),
        rating: loaded.ticket.feedback().map(|f| RatingIn {
            resolved: f.resolved,
            satisfied: f.satisfied,
            score: f.score.map(|s| s.get()),
            comment: f.comment.as_ref().map(ToString::to_string),
        }),
    }))
}

/// The events a resident is shown (not internal ones such as warnings).
fn resident_sees(kind: &str) -> bool {
    matches!(
        kind,
        "Received"
            | "Acknowledged"
            | "HandledLocally"
            | "CalledUp"
            | "WhistleBlown"
            | "DepartmentReportedIn"
            | "ProgressNoted"
            | "DepartmentFinished"
            | "ExtensionApproved"
            | "Resolved"
            | "FeedbackRecorded"
            | "Reopened"
            | "Closed"
            | "MergedInto"
    )
}

async fn completion_due(
    state: &ApiState,
    ticket: &TicketId,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(record) = whistle_sla::projection::ticket_record(&state.store, &ticket.to_string())
        .await
        .map_err(ApiError::unavailable)?
    else {
        return Ok(None);
    };
    let Ok(policy) = state.policies.version(&record.policy_version) else {
        return Ok(None);
    };
    let clocks = whistle_sla::clocks::clocks(&record.facts, policy, &state.calendar)
        .map_err(ApiError::internal)?;
    Ok(clocks
        .iter()
        .filter(|c| c.clock == whistle_events::ticket::SlaClock::Completion)
        .filter_map(|c| c.due_at)
        .max())
}

/// The machine name of a stage.
pub fn stage_name(stage: whistle_ticket::Stage) -> &'static str {
    use whistle_ticket::Stage::*;
    match stage {
        New => "new",
        Received => "received",
        Acknowledged => "acknowledged",
        HandlingLocally => "handling_locally",
        CalledUp => "called_up",
        Whistled => "whistled",
        Resolved => "resolved",
        Closed => "closed",
        Merged { .. } => "merged",
    }
}

fn stage_zh(stage: whistle_ticket::Stage) -> &'static str {
    use whistle_ticket::Stage::*;
    match stage {
        New => "未受理",
        Received => "待社区受理",
        Acknowledged => "社区已受理",
        HandlingLocally => "社区办理中",
        CalledUp => "已呼叫街道",
        Whistled => "部门办理中",
        Resolved => "已办结，待评价",
        Closed => "已关闭",
        Merged { .. } => "已合并",
    }
}

/// A resident's rating.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingIn {
    /// Is the problem solved?
    pub resolved: bool,
    /// Are you satisfied?
    pub satisfied: bool,
    /// 1 to 5.
    #[serde(default)]
    pub score: Option<u8>,
    /// Anything to add.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Rate the outcome of a resolved complaint, by its receipt token.
#[utoipa::path(
    post, path = "/api/receipts/{token}/rating", tag = "intake",
    params(("token" = String, Path, description = "The receipt token")),
    request_body = RatingIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem),
        (status = 200, body = FollowOut), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn rate(
    State(state): State<ApiState>,
    Segments(token): Segments<String>,
    Body(rating): Body<RatingIn>,
) -> Result<Json<FollowOut>, ApiError> {
    let id = state.receipts.open(&token)?;
    let score = match rating.score {
        Some(s) => Some(
            Score::parse(i64::from(s))
                .map_err(|e| ApiError::unprocessable("invalid_score", e.to_string()))?,
        ),
        None => None,
    };
    let comment = match rating.comment.filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(text("comment", c, true)?),
        None => None,
    };
    state
        .tickets
        .execute(
            id,
            TicketCommand::RecordFeedback {
                resolved: rating.resolved,
                satisfied: rating.satisfied,
                score,
                comment,
            },
            &EventMetadata::by(parse_id("actor", "resident")?),
        )
        .await?;
    follow(State(state), Segments(token)).await
}

/// One summons on a ticket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SummonsOut {
    /// The department.
    #[schema(value_type = String)]
    pub department: DepartmentId,
    /// `summoned`, `reported_in`, `declined` or `finished`.
    pub state: String,
    /// The liaison holding it.
    pub liaison: Option<String>,
    /// Whether it fixed its part (once finished).
    pub fixed: Option<bool>,
    /// An extension asked for, awaiting the street.
    pub extension_requested: Option<DateTime<Utc>>,
    /// The approved extension.
    pub extended_until: Option<DateTime<Utc>>,
    /// Whether it leads.
    pub lead: bool,
}

/// A ticket, as staff see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketOut {
    /// The ticket.
    #[schema(value_type = String, format = Uuid)]
    pub id: TicketId,
    /// Where it stands.
    pub stage: String,
    /// The ticket it was merged into.
    #[schema(value_type = Option<String>)]
    pub merged_into: Option<TicketId>,
    /// Where the problem is.
    #[schema(value_type = Object)]
    pub location: whistle_events::Location,
    /// The kind of problem.
    #[schema(value_type = String)]
    pub category: Category,
    /// How urgent.
    #[schema(value_type = String)]
    pub urgency: Urgency,
    /// How it reached us.
    #[schema(value_type = String)]
    pub channel: Channel,
    /// What the resident said.
    pub description: String,
    /// The resident's contact: in full for roles that call residents back, masked for
    /// the others, or erased.
    pub contact: ContactOut,
    /// The departments summoned.
    pub summonses: Vec<SummonsOut>,
    /// The round of handling (more than 1 after reopening).
    pub round: u32,
    /// Whether the completion clocks are paused.
    pub paused: bool,
}

/// The ticket, as `principal` may see it.
pub async fn ticket_out(
    state: &ApiState,
    principal: &Principal,
    loaded: &Loaded,
) -> Result<TicketOut, ApiError> {
    let ticket = &loaded.ticket;
    let received = ticket
        .received()
        .ok_or_else(|| ApiError::no_ticket(loaded.id))?;
    let full = authorize(
        principal,
        Duty::ReadContact,
        loaded.target(),
        &state.catalogue,
    )
    .is_ok();
    let contact = contact_for(state, loaded.id, full).await?;
    Ok(TicketOut {
        id: loaded.id,
        stage: stage_name(ticket.stage()).to_owned(),
        merged_into: match ticket.stage() {
            whistle_ticket::Stage::Merged { into } => Some(into),
            _ => None,
        },
        location: loaded.location.clone(),
        category: received.category,
        urgency: received.urgency,
        channel: received.channel,
        description: received.description.to_string(),
        contact,
        summonses: ticket
            .summonses()
            .iter()
            .map(|(department, s)| {
                let (state, liaison, fixed) = match &s.state {
                    SummonsState::Summoned => ("summoned", None, None),
                    SummonsState::ReportedIn { liaison } => {
                        ("reported_in", Some(liaison.to_string()), None)
                    }
                    SummonsState::Declined => ("declined", None, None),
                    SummonsState::Finished { fixed } => ("finished", None, Some(*fixed)),
                };
                SummonsOut {
                    department: department.clone(),
                    state: state.to_owned(),
                    liaison,
                    fixed,
                    extension_requested: s.extension_requested,
                    extended_until: s.extended_until,
                    lead: ticket.lead() == Some(department),
                }
            })
            .collect(),
        round: ticket.round(),
        paused: ticket.paused(),
    })
}

/// One ticket.
#[utoipa::path(
    get, path = "/api/tickets/{ticket}", tag = "tickets",
    params(("ticket" = String, Path, format = Uuid)),
    responses((status = 400, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn get_ticket(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::ReadTicket, &ticket)
        .await?;
    Ok(Json(ticket_out(&state, &principal, &loaded).await?))
}

/// One event on a ticket's timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineOut {
    /// Place in the ticket's stream (1 first).
    pub version: u64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who did it.
    pub actor: Option<String>,
    /// The event type.
    pub event_type: String,
    /// One line saying what happened (no personal data).
    pub summary: String,
    /// The event itself (personal data sealed).
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

/// A ticket's timeline: every event, with actor and time.
#[utoipa::path(
    get, path = "/api/tickets/{ticket}/timeline", tag = "tickets",
    params(("ticket" = String, Path, format = Uuid)),
    responses((status = 400, body = Problem), (status = 200, body = Vec<TimelineOut>), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn timeline(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
) -> Result<Json<Vec<TimelineOut>>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::ReadTicket, &ticket)
        .await?;
    let timeline = state.tickets.timeline(loaded.id).await?;
    Ok(Json(
        timeline
            .iter()
            .map(|entry| TimelineOut {
                version: entry.version,
                recorded_at: entry.recorded_at,
                actor: entry.metadata.actor.as_ref().map(ToString::to_string),
                event_type: entry.event.kind().name.to_owned(),
                summary: entry.summary(),
                event: serde_json::to_value(&entry.event).unwrap_or_default(),
            })
            .collect(),
    ))
}

/// A ticket's SLA clocks now, under the policy version it is timed under.
#[utoipa::path(
    get, path = "/api/tickets/{ticket}/clocks", tag = "tickets",
    params(("ticket" = String, Path, format = Uuid)),
    responses((status = 400, body = Problem), (status = 200, body = Object), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn clocks(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::ReadTicket, &ticket)
        .await?;
    let Some(record) = whistle_sla::projection::ticket_record(&state.store, &loaded.id.to_string())
        .await
        .map_err(ApiError::unavailable)?
    else {
        return Err(ApiError::not_found(
            "clocks_not_ready",
            "this ticket's clocks are not computed yet (it was received a moment ago); try again in a second",
        ));
    };
    let policy = state
        .policies
        .version(&record.policy_version)
        .map_err(ApiError::internal)?;
    let clocks = whistle_sla::clocks::clocks(&record.facts, policy, &state.calendar)
        .map_err(ApiError::internal)?;
    let now = state.clock.now();
    let clocks: Vec<_> = clocks
        .iter()
        .map(|c| serde_json::json!({"clock": c, "status": c.status_at(now)}))
        .collect();
    Ok(Json(serde_json::json!({
        "ticket": loaded.id,
        "policy_version": record.policy_version,
        "at": now,
        "clocks": clocks,
    })))
}

/// Every department summoned on a ticket, in the order first summoned, each once.
pub fn summoned(facts: &whistle_sla::facts::TicketFacts) -> Vec<DepartmentId> {
    let mut departments: Vec<DepartmentId> = Vec::new();
    for summons in &facts.summonses {
        if !departments.contains(&summons.department) {
            departments.push(summons.department.clone());
        }
    }
    departments
}

/// Filters and paging of ticket lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// Only this street's tickets.
    pub street: Option<String>,
    /// Only this community's tickets.
    pub community: Option<String>,
    /// Only tickets this department was summoned on.
    pub department: Option<String>,
    /// Only tickets at this stage (`received`, `acknowledged`, `handled_locally`,
    /// `called_up`, `whistled`, `reopened`, `resolved`, `closed`, `merged`).
    pub stage: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Page, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

/// A page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// This page, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Items on every page.
    pub total: usize,
}

impl<T> Page<T> {
    /// The `page`-th page of `all`.
    pub fn of(all: Vec<T>, page: Option<u32>, per_page: Option<u32>) -> Result<Self, ApiError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(50);
        if page == 0 || !(1..=200).contains(&per_page) {
            return Err(ApiError::bad_request(
                "invalid_page",
                "page starts at 1 and per_page is between 1 and 200",
            ));
        }
        let total = all.len();
        // In u64: a page far past the end must not overflow, it is simply empty.
        let skip = (u64::from(page) - 1).saturating_mul(u64::from(per_page));
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let items = all.into_iter().skip(skip).take(per_page as usize).collect();
        Ok(Self {
            items,
            page,
            per_page,
            total,
        })
    }
}

/// A ticket in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketSummaryOut {
    /// The ticket.
    #[schema(value_type = String, format = Uuid)]
    pub ticket: TicketId,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Where it stands.
    pub stage: String,
    /// The kind of problem.
    #[schema(value_type = String)]
    pub category: Category,
    /// How urgent.
    #[schema(value_type = String)]
    pub urgency: Urgency,
    /// Where.
    #[schema(value_type = Object)]
    pub location: whistle_events::Location,
    /// Departments summoned.
    #[schema(value_type = Vec<String>)]
    pub departments: Vec<DepartmentId>,
}

impl TicketSummaryOut {
    /// The list item of a ticket's facts.
    pub fn of(facts: whistle_sla::facts::TicketFacts) -> Self {
        Self {
            ticket: facts.ticket,
            received_at: facts.received_at,
            stage: serde_json::to_value(whistle_sla::stats::stage(&facts))
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            category: facts.category,
            urgency: facts.urgency,
            departments: summoned(&facts),
            location: facts.location,
        }
    }
}

/// Tickets in the caller's scope, newest first, filtered and paginated.
#[utoipa::path(
    get, path = "/api/tickets", tag = "tickets",
    params(TicketQuery),
    responses((status = 200, body = Page<TicketSummaryOut>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_tickets(
    State(state): State<ApiState>,
    principal: Principal,
    Params(query): Params<TicketQuery>,
) -> Result<Json<Page<TicketSummaryOut>>, ApiError> {
    authorize(
        &principal,
        Duty::ReadTicket,
        Target::Anywhere,
        &state.catalogue,
    )?;
    let street: Option<StreetId> = query
        .street
        .as_deref()
        .map(|s| parse_id("street", s))
        .transpose()?;
    let community: Option<CommunityId> = query
        .community
        .as_deref()
        .map(|s| parse_id("community", s))
        .transpose()?;
    let department: Option<DepartmentId> = query
        .department
        .as_deref()
        .map(|s| parse_id("department", s))
        .transpose()?;
    let category: Option<Category> = query
        .category
        .as_deref()
        .map(|c| {
            serde_json::from_value(serde_json::Value::String(c.trim().to_owned())).map_err(|_| {
                ApiError::bad_request(
                    "invalid_category",
                    format!("unknown category `{c}`; see /open311/v2/services.json"),
                )
            })
        })
        .transpose()?;
    let stage: Option<whistle_sla::stats::Stage> = query
        .stage
        .as_deref()
        .map(|s| {
            serde_json::from_value(serde_json::Value::String(s.trim().to_owned())).map_err(|_| {
                ApiError::bad_request(
                    "invalid_stage",
                    format!("unknown stage `{s}`; see this route's documentation for the list"),
                )
            })
        })
        .transpose()?;
    let records = whistle_sla::projection::ticket_records(&state.store)
        .await
        .map_err(ApiError::unavailable)?;
    let mut items: Vec<TicketSummaryOut> = records
        .into_iter()
        .map(|r| r.facts)
        .filter_map(|facts| {
            let departments = summoned(&facts);
            let visible = sees(
                &principal.scope,
                &facts.location,
                &departments,
                &state.catalogue,
            );
            let stage_now = whistle_sla::stats::stage(&facts);
            let keep = visible
                && street.as_ref().is_none_or(|s| &facts.location.street == s)
                && community
                    .as_ref()
                    .is_none_or(|c| &facts.location.community == c)
                && department.as_ref().is_none_or(|d| departments.contains(d))
                && category.is_none_or(|c| facts.category == c)
                && stage.is_none_or(|s| stage_now == s);
            keep.then(|| TicketSummaryOut::of(facts))
        })
        .collect();
    items.sort_by_key(|item| std::cmp::Reverse(item.received_at));
    Ok(Json(Page::of(items, query.page, query.per_page)?))
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn a_page_far_past_the_end_is_empty_and_bad_paging_is_refused() {
        let all: Vec<u32> = (0..120).collect();
        let second = Page::of(all.clone(), Some(2), Some(50)).expect("a page");
        assert_eq!(
            (second.items.len(), second.items[0], second.total),
            (50, 50, 120)
        );
        let far = Page::of(all.clone(), Some(u32::MAX), Some(200)).expect("a page");
        assert!(far.items.is_empty());
        assert_eq!(far.total, 120);
        assert!(Page::of(all.clone(), Some(0), None).is_err());
        assert!(Page::of(all, None, Some(201)).is_err());
    }
}
