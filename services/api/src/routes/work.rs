//! The stages' work: a community's queue and commands, a street dispatcher's queue and
//! commands, a department's queue and its liaisons' commands. Each handler checks the
//! caller, turns the request into a command, runs it, and answers with the ticket as it
//! now stands.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use whistle_community::Workstation;
use whistle_department::Desk;
use whistle_events::ticket::SupervisionLevel;
use whistle_events::{DepartmentId, EventMetadata, LiaisonId, Text};
use whistle_street::Dispatcher;
use whistle_ticket::TicketCommand;

use crate::access::{Duty, Target, authorize};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::routes::tickets::{TicketOut, ticket_out};
use crate::state::{ApiState, Body, Loaded, Segments, parse_id};

fn reason_text(field: &'static str, value: &str) -> Result<Text, ApiError> {
    Text::reason(value)
        .map_err(|e| ApiError::unprocessable("invalid_text", format!("{field}: {e}")))
}

fn note_text(field: &'static str, value: &str) -> Result<Text, ApiError> {
    Text::note(value).map_err(|e| ApiError::unprocessable("invalid_text", format!("{field}: {e}")))
}

/// The ticket after a command, as the caller sees it.
async fn after(
    state: &ApiState,
    principal: &Principal,
    loaded: &Loaded,
) -> Result<Json<TicketOut>, ApiError> {
    let now = state.load_ticket(&loaded.id.to_string()).await?;
    Ok(Json(ticket_out(state, principal, &now).await?))
}

// ---------------------------------------------------------------- community

/// A community's queue, acknowledge deadline first.
#[utoipa::path(
    get, path = "/api/communities/{community}/queue", tag = "community",
    params(("community" = String, Path, example = "hongqili")),
    responses((status = 400, body = Problem), (status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn community_queue(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(community): Segments<String>,
) -> Result<Json<Vec<whistle_community::CommunityEntry>>, ApiError> {
    let community = state.community_in_path(&principal, &community)?;
    let entries = whistle_community::queue(&state.store, &community)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(entries))
}

/// A reply to the resident.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeIn {
    /// What the resident is told.
    #[schema(example = "您好，已收到，社区今天下午上门查看。")]
    pub reply: String,
}

/// Acknowledge a complaint: the 5-minute clock stops.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/acknowledge", tag = "community",
    params(("ticket" = String, Path, format = Uuid)), request_body = AcknowledgeIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn acknowledge(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
    Body(body): Body<AcknowledgeIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::CommunityWork, &ticket)
        .await?;
    let reply = note_text("reply", &body.reply)?;
    Workstation::new(state.tickets.clone())
        .acknowledge(loaded.id, principal.actor().clone(), reply)
        .await?;
    after(&state, &principal, &loaded).await
}

/// A plan, a reason or a summary.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonIn {
    /// In a sentence or two.
    #[schema(example = "需要住建部门协调维修资金")]
    pub reason: String,
}

/// Take the complaint on locally.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/handle-locally", tag = "community",
    params(("ticket" = String, Path, format = Uuid)), request_body = ReasonIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn handle_locally(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
    Body(body): Body<ReasonIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::CommunityWork, &ticket)
        .await?;
    let plan = note_text("reason", &body.reason)?;
    Workstation::new(state.tickets.clone())
        .handle_locally(loaded.id, principal.actor().clone(), plan)
        .await?;
    after(&state, &principal, &loaded).await
}

/// Call the street up (社区呼叫).
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/call-up", tag = "community",
    params(("ticket" = String, Path, format = Uuid)), request_body = ReasonIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn call_up(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
    Body(body): Body<ReasonIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::CommunityWork, &ticket)
        .await?;
    let reason = reason_text("reason", &body.reason)?;
    Workstation::new(state.tickets.clone())
        .call_up(loaded.id, principal.actor().clone(), reason)
        .await?;
    after(&state, &principal, &loaded).await
}

/// Report the community's own fix: the ticket is resolved.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/resolve", tag = "community",
    params(("ticket" = String, Path, format = Uuid)), request_body = ReasonIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn resolve(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
    Body(body): Body<ReasonIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::CommunityWork, &ticket)
        .await?;
    let summary = note_text("reason", &body.reason)?;
    Workstation::new(state.tickets.clone())
        .resolve(loaded.id, principal.actor().clone(), summary)
        .await?;
    after(&state, &principal, &loaded).await
}

// ---------------------------------------------------------------- street

/// A street dispatcher's queue: tickets waiting for a whistle, with the catalogue's
/// suggestion.
#[utoipa::path(
    get, path = "/api/streets/{street}/dispatch-queue", tag = "street",
    params(("street" = String, Path, example = "wenhualu")),
    responses((status = 400, body = Problem), (status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn dispatch_queue(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(street): Segments<String>,
) -> Result<Json<Vec<whistle_street::DispatchEntry>>, ApiError> {
    let street = state.street_in_path(&principal, &street)?;
    let entries = whistle_street::queue(&state.store, &street)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(entries))
}

/// A street's extension requests waiting for its answer, oldest first: approve or deny
/// each with `…/summons/{department}/extension/approve|deny`.
#[utoipa::path(
    get, path = "/api/streets/{street}/extension-requests", tag = "street",
    params(("street" = String, Path, example = "wenhualu")),
    responses((status = 400, body = Problem), (status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn extension_requests(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(street): Segments<String>,
) -> Result<Json<Vec<whistle_street::ExtensionRequest>>, ApiError> {
    let street = state.street_in_path(&principal, &street)?;
    let requests = whistle_street::extension_requests(&state.store, &street)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(requests))
}

/// A whistle: the departments to summon and the lead; both omitted to take the routing
/// catalogue's suggestion.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhistleIn {
    /// Departments to summon (also how a declined summons is re-dispatched).
    #[serde(default)]
    #[schema(example = json!(["zhujian", "huanwei"]))]
    pub departments: Option<Vec<String>>,
    /// The lead department.
    #[serde(default)]
    #[schema(example = "zhujian")]
    pub lead: Option<String>,
    /// Why these departments.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Blow the whistle (街道吹哨), or re-dispatch a declined summons.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/whistle", tag = "street",
    params(("ticket" = String, Path, format = Uuid)), request_body = WhistleIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn whistle(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
    Body(body): Body<WhistleIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::StreetDispatch, &ticket)
        .await?;
    let received = loaded
        .ticket
        .received()
        .ok_or_else(|| ApiError::no_ticket(loaded.id))?;
    let (departments, lead, reason) = match body.departments {
        Some(list) => {
            let departments = list
                .iter()
                .map(|d| state.department_in_body(d))
                .collect::<Result<Vec<_>, _>>()?;
            let lead = match body.lead.as_deref() {
                Some(l) => state.department_in_body(l)?,
                None => departments.first().cloned().ok_or_else(|| {
                    ApiError::unprocessable(
                        "no_departments",
                        "a whistle must summon at least one department",
                    )
                })?,
            };
            let reason = body
                .reason
                .unwrap_or_else(|| "dispatcher's choice".to_owned());
            (departments, lead, reason)
        }
        None => {
            // The catalogue's suggestion, skipping departments already on the ticket.
            let tried: Vec<DepartmentId> = loaded.departments.clone();
            match state
                .catalogue
                .route(&loaded.location, received.category, &tried)
            {
                whistle_routing::Route::Summon {
                    departments,
                    lead,
                    reason,
                    ..
                } => (departments, lead, body.reason.unwrap_or(reason)),
                whistle_routing::Route::Dispatcher { reason, .. } => {
                    return Err(ApiError::unprocessable(
                        "no_suggestion",
                        format!(
                            "the routing catalogue has no one to suggest ({reason}); name the departments"
                        ),
                    ));
                }
            }
        }
    };
    let reason: String = reason.chars().take(500).collect();
    Dispatcher::new(state.tickets.clone())
        .blow_whistle(
            loaded.id,
            principal.actor().clone(),
            departments,
            lead,
            reason_text("reason", &reason)?,
        )
        .await?;
    after(&state, &principal, &loaded).await
}

/// Approve a department's extension request (延期).
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/summons/{department}/extension/approve", tag = "street",
    params(("ticket" = String, Path, format = Uuid), ("department" = String, Path)), request_body = ReasonIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn approve_extension(
    State(state): State<ApiState>,
    principal: Principal,
    Segments((ticket, department)): Segments<(String, String)>,
    Body(body): Body<ReasonIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::StreetDispatch, &ticket)
        .await?;
    let department = parse_id("department", &department)?;
    Dispatcher::new(state.tickets.clone())
        .approve_extension(
            loaded.id,
            principal.actor().clone(),
            department,
            reason_text("reason", &body.reason)?,
        )
        .await?;
    after(&state, &principal, &loaded).await
}

/// Deny a department's extension request.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/summons/{department}/extension/deny", tag = "street",
    params(("ticket" = String, Path, format = Uuid), ("department" = String, Path)), request_body = ReasonIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn deny_extension(
    State(state): State<ApiState>,
    principal: Principal,
    Segments((ticket, department)): Segments<(String, String)>,
    Body(body): Body<ReasonIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::StreetDispatch, &ticket)
        .await?;
    let department = parse_id("department", &department)?;
    Dispatcher::new(state.tickets.clone())
        .deny_extension(
            loaded.id,
            principal.actor().clone(),
            department,
            reason_text("reason", &body.reason)?,
        )
        .await?;
    after(&state, &principal, &loaded).await
}

/// A duplicate to merge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeIn {
    /// The ticket that carries on.
    #[schema(format = Uuid)]
    pub into: String,
    /// Why they are the same incident.
    pub reason: String,
}

/// Merge this ticket, a duplicate, into another of the same street (one flood, fifty
/// calls).
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/merge", tag = "street",
    params(("ticket" = String, Path, format = Uuid)), request_body = MergeIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn merge(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
    Body(body): Body<MergeIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::StreetDispatch, &ticket)
        .await?;
    let into = state
        .ticket_for(&principal, Duty::StreetDispatch, &body.into)
        .await?;
    let reason = reason_text("reason", &body.reason)?;
    let metadata = EventMetadata::by(principal.actor().clone());
    state
        .tickets
        .execute(
            loaded.id,
            TicketCommand::MergeInto {
                into: into.id,
                reason,
            },
            &metadata,
        )
        .await?;
    // The survivor records the duplicate; recording it again changes nothing, so a
    // retry after a failure here completes the merge.
    state
        .tickets
        .execute(
            into.id,
            TicketCommand::AbsorbDuplicate { from: loaded.id },
            &metadata,
        )
        .await?;
    after(&state, &principal, &loaded).await
}

// ---------------------------------------------------------------- department

/// A department's queue, by deadline.
#[utoipa::path(
    get, path = "/api/departments/{department}/queue", tag = "department",
    params(("department" = String, Path, example = "zhujian")),
    responses((status = 400, body = Problem), (status = 200, body = Vec<Object>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn department_queue(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(department): Segments<String>,
) -> Result<Json<Vec<whistle_department::QueueEntry>>, ApiError> {
    let department = state.department_in_path(&principal, &department)?;
    let entries = whistle_department::queue(&state.store, &department)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(entries))
}

/// The liaison behind a request on `department`'s summons: the caller, who must be one
/// of that department's liaisons.
async fn liaison_on(
    state: &ApiState,
    principal: &Principal,
    ticket: &str,
    department: &str,
) -> Result<(Loaded, DepartmentId, LiaisonId), ApiError> {
    let loaded = state
        .ticket_for(principal, Duty::DepartmentWork, ticket)
        .await?;
    let department: DepartmentId = parse_id("department", department)?;
    authorize(
        principal,
        Duty::DepartmentWork,
        Target::Department(&department),
        &state.catalogue,
    )?;
    let liaison = LiaisonId::parse(principal.subject.to_lowercase()).map_err(|e| {
        ApiError::forbidden(
            "invalid_liaison",
            format!(
                "the token's subject `{}` is not a liaison id ({e}); ask for a token whose subject is your liaison id",
                principal.subject
            ),
        )
    })?;
    Ok((loaded, department, liaison))
}

/// Claim the department's summons (报到). When another liaison was first, the answer
/// (409 `already_claimed`) names them.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/summons/{department}/claim", tag = "department",
    params(("ticket" = String, Path, format = Uuid), ("department" = String, Path)),
    responses((status = 400, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn claim(
    State(state): State<ApiState>,
    principal: Principal,
    Segments((ticket, department)): Segments<(String, String)>,
) -> Result<Json<TicketOut>, ApiError> {
    let (loaded, department, liaison) =
        liaison_on(&state, &principal, &ticket, &department).await?;
    Desk::new(state.tickets.clone())
        .claim(loaded.id, department, liaison)
        .await?;
    after(&state, &principal, &loaded).await
}

/// Decline the summons (退单) with a reason; the street re-dispatches.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/summons/{department}/decline", tag = "department",
    params(("ticket" = String, Path, format = Uuid), ("department" = String, Path)), request_body = ReasonIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn decline(
    State(state): State<ApiState>,
    principal: Principal,
    Segments((ticket, department)): Segments<(String, String)>,
    Body(body): Body<ReasonIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let (loaded, department, liaison) =
        liaison_on(&state, &principal, &ticket, &department).await?;
    Desk::new(state.tickets.clone())
        .decline(
            loaded.id,
            department,
            liaison,
            reason_text("reason", &body.reason)?,
        )
        .await?;
    after(&state, &principal, &loaded).await
}

/// A progress note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressIn {
    /// What happened.
    #[schema(example = "已到现场查看，明天更换灯具")]
    pub note: String,
    /// Whether this records a visit on site.
    #[serde(default)]
    pub on_site: bool,
}

/// Note progress on the summons (or a site visit).
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/summons/{department}/progress", tag = "department",
    params(("ticket" = String, Path, format = Uuid), ("department" = String, Path)), request_body = ProgressIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn progress(
    State(state): State<ApiState>,
    principal: Principal,
    Segments((ticket, department)): Segments<(String, String)>,
    Body(body): Body<ProgressIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let (loaded, department, liaison) =
        liaison_on(&state, &principal, &ticket, &department).await?;
    Desk::new(state.tickets.clone())
        .note_progress(
            loaded.id,
            department,
            liaison,
            note_text("note", &body.note)?,
            body.on_site,
        )
        .await?;
    after(&state, &principal, &loaded).await
}

/// A department's result.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishIn {
    /// Whether the department fixed its part.
    pub fixed: bool,
    /// What was done.
    #[schema(example = "已更换楼道灯 3 盏")]
    pub outcome: String,
}

/// Report the department's result (办结).
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/summons/{department}/finish", tag = "department",
    params(("ticket" = String, Path, format = Uuid), ("department" = String, Path)), request_body = FinishIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn finish(
    State(state): State<ApiState>,
    principal: Principal,
    Segments((ticket, department)): Segments<(String, String)>,
    Body(body): Body<FinishIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let (loaded, department, liaison) =
        liaison_on(&state, &principal, &ticket, &department).await?;
    Desk::new(state.tickets.clone())
        .finish(
            loaded.id,
            department,
            liaison,
            body.fixed,
            note_text("outcome", &body.outcome)?,
        )
        .await?;
    after(&state, &principal, &loaded).await
}

/// More time asked of the street.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionIn {
    /// The new deadline asked for (RFC 3339).
    pub until: DateTime<Utc>,
    /// Why; the resident is told.
    pub reason: String,
}

/// Ask the street for more time (延期).
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/summons/{department}/extension", tag = "department",
    params(("ticket" = String, Path, format = Uuid), ("department" = String, Path)), request_body = ExtensionIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn request_extension(
    State(state): State<ApiState>,
    principal: Principal,
    Segments((ticket, department)): Segments<(String, String)>,
    Body(body): Body<ExtensionIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let (loaded, department, liaison) =
        liaison_on(&state, &principal, &ticket, &department).await?;
    let metadata = EventMetadata::by(principal.actor().clone());
    state
        .tickets
        .execute(
            loaded.id,
            TicketCommand::RequestExtension {
                department,
                liaison,
                until: body.until,
                reason: reason_text("reason", &body.reason)?,
            },
            &metadata,
        )
        .await?;
    after(&state, &principal, &loaded).await
}

// ---------------------------------------------------------------- supervisor

/// Supervision to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupervisionIn {
    /// `street` or `district`.
    #[schema(value_type = String, example = "district")]
    pub level: SupervisionLevel,
    /// The department singled out, if any.
    #[serde(default)]
    pub department: Option<String>,
    /// Why.
    pub reason: String,
}

/// Open supervision (督办) on a ticket.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/supervision", tag = "supervisor",
    params(("ticket" = String, Path, format = Uuid)), request_body = SupervisionIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn open_supervision(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
    Body(body): Body<SupervisionIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::Supervise, &ticket)
        .await?;
    let department = body
        .department
        .as_deref()
        .map(|d| state.department_in_body(d))
        .transpose()?;
    state
        .tickets
        .execute(
            loaded.id,
            TicketCommand::OpenSupervision {
                level: body.level,
                department,
                reason: reason_text("reason", &body.reason)?,
            },
            &EventMetadata::by(principal.actor().clone()),
        )
        .await?;
    after(&state, &principal, &loaded).await
}

/// Erase the resident's personal data on a ticket (an erasure request): the contact can
/// no longer be read, the ticket's history stays whole.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/erase-personal-data", tag = "supervisor",
    params(("ticket" = String, Path, format = Uuid)), request_body = ReasonIn,
    responses((status = 400, body = Problem), (status = 415, body = Problem), (status = 413, body = Problem), (status = 200, body = TicketOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn erase_personal_data(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(ticket): Segments<String>,
    Body(body): Body<ReasonIn>,
) -> Result<Json<TicketOut>, ApiError> {
    let loaded = state
        .ticket_for(&principal, Duty::ErasePersonalData, &ticket)
        .await?;
    state
        .tickets
        .execute(
            loaded.id,
            TicketCommand::ErasePersonalData {
                reason: reason_text("reason", &body.reason)?,
            },
            &EventMetadata::by(principal.actor().clone()),
        )
        .await?;
    after(&state, &principal, &loaded).await
}
