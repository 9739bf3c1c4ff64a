//! Supervisors' views: the board (now or as of a past instant), the monthly ranking,
//! at-risk and breached lists, what-if recomputations, and the live streams (breaches,
//! the board, a department's notices). Every figure is computed over the tickets inside
//! the caller's scope only.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use whistle_sla::facts::TicketFacts;
use whistle_sla::stats::{AlertedClock, Board, Dimension, Drill, Group, Period};
use whistle_sla::views::{self, Rules};

use crate::access::{Duty, Target, authorize, sees};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::routes::tickets::{Page, TicketSummaryOut, summoned};
use crate::state::{ApiState, Params, Segments};

/// `?as_of=` on boards.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// A past instant (RFC 3339): the board exactly as it stood then, rebuilt from the
    /// log.
    pub as_of: Option<String>,
}

fn instant(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_instant",
                format!(
                    "{field}={text:?} is not an RFC 3339 instant ({e}); write e.g. 2026-03-11T08:00:00%2B08:00"
                ),
            )
        })
}

fn rules(state: &ApiState) -> Rules<'_> {
    Rules {
        policies: &state.policies,
        calendar: &state.calendar,
        weights: &state.weights,
    }
}

/// The facts of the tickets inside the caller's scope, now or as of `at`.
async fn scoped_facts(
    state: &ApiState,
    principal: &Principal,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<TicketFacts>, ApiError> {
    authorize(
        principal,
        Duty::ReadBoards,
        Target::Anywhere,
        &state.catalogue,
    )?;
    let facts = match as_of {
        Some(at) => views::facts_as_of(&state.store, at, &mut |_| {}).await,
        None => views::current_facts(&state.store).await,
    }
    .map_err(ApiError::unavailable)?;
    Ok(facts
        .into_iter()
        .filter(|f| {
            sees(
                &principal.scope,
                &f.location,
                &summoned(f),
                &state.catalogue,
            )
        })
        .collect())
}

async fn scoped_board(
    state: &ApiState,
    principal: &Principal,
    as_of: Option<&str>,
) -> Result<Board, ApiError> {
    let as_of = as_of.map(|t| instant("as_of", t)).transpose()?;
    let facts = scoped_facts(state, principal, as_of).await?;
    views::official_board(
        &facts,
        rules(state),
        as_of.unwrap_or_else(|| state.clock.now()),
    )
    .map_err(ApiError::internal)
}

/// The board: tickets by stage, at-risk and breached clocks, 5-minute compliance, 三率,
/// on-time rates and hop-by-hop times per group, per day and month.
#[utoipa::path(
    get, path = "/api/sla/board", tag = "supervisor", params(BoardQuery),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn board(
    State(state): State<ApiState>,
    principal: Principal,
    Params(query): Params<BoardQuery>,
) -> Result<Json<Board>, ApiError> {
    Ok(Json(
        scoped_board(&state, &principal, query.as_of.as_deref()).await?,
    ))
}

/// Paging of the at-risk and breached lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClockListQuery {
    /// Only this street's clocks.
    pub street: Option<String>,
    /// Only this clock (`acknowledge`, `report_in`, `completion`).
    pub clock: Option<String>,
    /// Page, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

fn clock_page(
    clocks: Vec<AlertedClock>,
    query: ClockListQuery,
) -> Result<Page<AlertedClock>, ApiError> {
    let kept: Vec<AlertedClock> = clocks
        .into_iter()
        .filter(|c| {
            query
                .street
                .as_deref()
                .is_none_or(|s| c.street.as_str() == s.trim())
                && query
                    .clock
                    .as_deref()
                    .is_none_or(|k| c.clock.as_str() == k.trim())
        })
        .collect();
    Page::of(kept, query.page, query.per_page)
}

/// Running clocks at risk of missing their deadline, soonest due first.
#[utoipa::path(
    get, path = "/api/sla/at-risk", tag = "supervisor", params(ClockListQuery),
    responses((status = 400, body = Problem), (status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn at_risk(
    State(state): State<ApiState>,
    principal: Principal,
    Params(query): Params<ClockListQuery>,
) -> Result<Json<Page<AlertedClock>>, ApiError> {
    let board = scoped_board(&state, &principal, None).await?;
    Ok(Json(clock_page(board.at_risk, query)?))
}

/// Clocks running past their deadline, most overdue first.
#[utoipa::path(
    get, path = "/api/sla/breached", tag = "supervisor", params(ClockListQuery),
    responses((status = 400, body = Problem), (status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn breached(
    State(state): State<ApiState>,
    principal: Principal,
    Params(query): Params<ClockListQuery>,
) -> Result<Json<Page<AlertedClock>>, ApiError> {
    let board = scoped_board(&state, &principal, None).await?;
    Ok(Json(clock_page(board.breached, query)?))
}

/// Which figure to drill into.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DrillQuery {
    /// The group's dimension: `all`, `district`, `street`, `community`, `category` or
    /// `department`.
    pub dimension: String,
    /// The group's key: a code, a category's name, or `all`.
    pub key: String,
    /// The period: `all`, a month `YYYY-MM` or a day `YYYY-MM-DD`.
    pub period: String,
    /// The figure: `tickets`, `summonses`, `numerator:<rate>`, `denominator:<rate>` or
    /// `hop:<hop>` (rates: `response`, `resolution`, `satisfaction`,
    /// `acknowledge_on_time`, `report_in_on_time`, `completion_on_time`, `return`, `redo`,
    /// `whistle`; hops: `acknowledge`, `call_up_to_whistle`, `whistle_to_report_in`,
    /// `report_in_to_result`).
    pub figure: String,
    /// The board's instant (RFC 3339; default now).
    pub as_of: Option<String>,
    /// Page, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

/// A ticket behind a figure.
#[derive(Debug, serde::Serialize, Deserialize, ToSchema)]
pub struct DrilledOut {
    /// How much of the figure it makes (1 for a ticket count; its summonses counted, for
    /// a count of summonses).
    pub count: u64,
    /// The ticket.
    #[serde(flatten)]
    pub ticket: TicketSummaryOut,
}

fn enumerated<T: serde::de::DeserializeOwned>(
    field: &str,
    value: serde_json::Value,
    hint: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(value.clone()).map_err(|_| {
        ApiError::bad_request(
            "invalid_drill",
            format!("{field}={value} is not one of: {hint}"),
        )
    })
}

fn drill_of(query: &DrillQuery) -> Result<(Group, Drill), ApiError> {
    let dimension: Dimension = enumerated(
        "dimension",
        serde_json::Value::String(query.dimension.trim().to_owned()),
        "all, district, street, community, category, department",
    )?;
    let text = query.period.trim();
    let period = if text == "all" {
        Period::All
    } else if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Period::Day { date }
    } else {
        let (year, month) = month(text).map_err(|_| {
            ApiError::bad_request(
                "invalid_drill",
                format!("period={text:?} is not a period; write all, YYYY-MM or YYYY-MM-DD"),
            )
        })?;
        Period::Month { year, month }
    };
    let figure = query.figure.trim();
    let rates = "response, resolution, satisfaction, acknowledge_on_time, report_in_on_time, completion_on_time, return, redo, whistle";
    let drill = match figure.split_once(':') {
        None if figure == "tickets" => Drill::Tickets,
        None if figure == "summonses" => Drill::Summonses,
        Some(("numerator", rate)) => Drill::Numerator(enumerated("figure", rate.into(), rates)?),
        Some(("denominator", rate)) => {
            Drill::Denominator(enumerated("figure", rate.into(), rates)?)
        }
        Some(("hop", hop)) => Drill::Hop(enumerated(
            "figure",
            hop.into(),
            "acknowledge, call_up_to_whistle, whistle_to_report_in, report_in_to_result",
        )?),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_drill",
                format!(
                    "figure={figure:?} is not a figure; write tickets, summonses, numerator:<rate>, denominator:<rate> or hop:<hop>"
                ),
            ));
        }
    };
    Ok((Group::new(dimension, query.key.trim(), period), drill))
}

/// The tickets behind one figure of the board (in the caller's scope): a group (dimension,
/// key, period) and which figure of it. Their counts add up to the figure.
#[utoipa::path(
    get, path = "/api/sla/drill", tag = "supervisor", params(DrillQuery),
    responses((status = 200, body = Page<DrilledOut>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn drill(
    State(state): State<ApiState>,
    principal: Principal,
    Params(query): Params<DrillQuery>,
) -> Result<Json<Page<DrilledOut>>, ApiError> {
    let (group, figure) = drill_of(&query)?;
    let as_of = query
        .as_of
        .as_deref()
        .map(|t| instant("as_of", t))
        .transpose()?;
    let facts = scoped_facts(&state, &principal, as_of).await?;
    let at = as_of.unwrap_or_else(|| state.clock.now());
    let behind = views::official_drill(&facts, rules(&state), at, &group, figure)
        .map_err(ApiError::internal)?;
    let mut by_ticket: std::collections::HashMap<_, _> =
        facts.into_iter().map(|f| (f.ticket, f)).collect();
    let items = behind
        .into_iter()
        .filter_map(|b| {
            by_ticket.remove(&b.ticket).map(|facts| DrilledOut {
                count: b.count,
                ticket: TicketSummaryOut::of(facts),
            })
        })
        .collect();
    Ok(Json(Page::of(items, query.page, query.per_page)?))
}

/// `?month=` and more on rankings and what-if.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// The month, YYYY-MM.
    pub month: Option<String>,
    /// A weights version (default: the one in force).
    pub weights: Option<String>,
    /// A policy version to time every ticket under (what-if only).
    pub policy: Option<String>,
    /// An instant to compute as of (RFC 3339; default now).
    pub as_of: Option<String>,
}

fn month(text: &str) -> Result<(i32, u32), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_month",
            format!("month={text:?} is not a month; write YYYY-MM, e.g. 2026-03"),
        )
    };
    let (year, month) = text.trim().split_once('-').ok_or_else(bad)?;
    let year: i32 = year.parse().map_err(|_| bad())?;
    let month: u32 = month.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) || !(2000..=2100).contains(&year) {
        return Err(bad());
    }
    Ok((year, month))
}

/// The monthly ranking of streets and departments (三率 weighted).
#[utoipa::path(
    get, path = "/api/sla/ranking", tag = "supervisor", params(RankingQuery),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn ranking(
    State(state): State<ApiState>,
    principal: Principal,
    Params(query): Params<RankingQuery>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let (year, month) = match query.month.as_deref() {
        Some(m) => month(m)?,
        None => {
            let local = now.with_timezone(&state.calendar.time_zone());
            (
                chrono::Datelike::year(&local),
                chrono::Datelike::month(&local),
            )
        }
    };
    let board = scoped_board(&state, &principal, query.as_of.as_deref()).await?;
    let weights = match query.weights.as_deref() {
        Some(v) => state.weights.version(v),
        None => state.weights.in_force(board.at),
    }
    .map_err(|e| ApiError::not_found("unknown_weights", e.to_string()))?;
    Ok(Json(whistle_sla::stats::ranking(&board, year, month, weights)).into_response())
}

/// The official board beside the board under another policy version and/or weights,
/// with the difference.
#[utoipa::path(
    get, path = "/api/sla/what-if", tag = "supervisor", params(RankingQuery),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn what_if(
    State(state): State<ApiState>,
    principal: Principal,
    Params(query): Params<RankingQuery>,
) -> Result<Response, ApiError> {
    let as_of = query
        .as_of
        .as_deref()
        .map(|t| instant("as_of", t))
        .transpose()?;
    let month = query.month.as_deref().map(month).transpose()?;
    let facts = scoped_facts(&state, &principal, as_of).await?;
    let at = as_of.unwrap_or_else(|| state.clock.now());
    let outcome = views::what_if(
        &facts,
        rules(&state),
        at,
        query.policy.as_deref(),
        month,
        query.weights.as_deref(),
    )
    .map_err(|e| match e {
        views::ViewError::Policy(e) => ApiError::not_found("unknown_policy", e.to_string()),
        views::ViewError::Ranking(e) => ApiError::not_found("unknown_weights", e.to_string()),
        views::ViewError::Store(e) => ApiError::unavailable(e),
        other => ApiError::internal(other),
    })?;
    Ok(Json(outcome).into_response())
}

/// Breaches as they happen (`event: breach`), for the caller's scope.
#[utoipa::path(
    get, path = "/api/sla/alerts", tag = "live",
    responses((status = 400, body = Problem), (status = 200, description = "text/event-stream of `breach` events"), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn alerts(
    State(state): State<ApiState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    authorize(
        &principal,
        Duty::ReadBoards,
        Target::Anywhere,
        &state.catalogue,
    )?;
    let catalogue = state.catalogue.clone();
    let stream = tokio_stream::wrappers::BroadcastStream::new(state.alerts.subscribe())
        .filter_map(move |alert| {
            let scope = principal.scope.clone();
            let catalogue = catalogue.clone();
            async move {
                let alert = alert.ok()?;
                let target = Target::Street(&alert.row.street);
                crate::access::contains(&scope, target, &catalogue).then_some(alert)
            }
        })
        .map(|alert| {
            Ok::<_, Infallible>(
                SseEvent::default()
                    .event("breach")
                    .json_data(&alert)
                    .unwrap_or_default(),
            )
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The board's headline figures (`event: board`), sent again whenever they change, for
/// dashboards.
#[utoipa::path(
    get, path = "/api/sla/board/live", tag = "live",
    responses((status = 200, description = "text/event-stream of `board` events: stages, at-risk and breached counts, compliance"), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn board_live(
    State(state): State<ApiState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    authorize(
        &principal,
        Duty::ReadBoards,
        Target::Anywhere,
        &state.catalogue,
    )?;
    let watch = crate::routes::live::Watch {
        store: state.store.clone(),
        consumer: "sla",
    };
    Ok(crate::routes::live::changes(
        "board",
        Some(watch),
        move || {
            let (state, principal) = (state.clone(), principal.clone());
            async move {
                let board = scoped_board(&state, &principal, None).await?;
                // Without the instant: the figures, not the clock, decide what is news.
                Ok(serde_json::json!({
                    "stages": board.stages,
                    "totals": board.totals,
                    "at_risk": board.at_risk.len(),
                    "breached": board.breached.len(),
                    "acknowledge_compliance": board.acknowledge_compliance,
                }))
            }
        },
    ))
}

/// A department's live notices (a summons arrived, was claimed, …) as server-sent
/// events.
#[utoipa::path(
    get, path = "/api/departments/{department}/notices", tag = "live",
    params(("department" = String, Path, example = "zhujian")),
    responses((status = 400, body = Problem), (status = 200, description = "text/event-stream of notices"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn department_notices(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(department): Segments<String>,
) -> Result<Response, ApiError> {
    let department = state.department_in_path(&principal, &department)?;
    let stream = state
        .notices
        .watch(&department)
        .await
        .map_err(ApiError::unavailable)?;
    let events = stream.map(|notice| {
        let kind = serde_json::to_value(notice.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "notice".to_owned());
        Ok::<_, Infallible>(
            SseEvent::default()
                .event(kind)
                .id(notice.event_id.to_string())
                .json_data(&notice)
                .unwrap_or_default(),
        )
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}
