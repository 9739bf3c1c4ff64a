//! Live views for consoles: a queue or a board sent again as server-sent events whenever
//! it changes, so a page shows new work without reloading.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::Value;
use whistle_store::{EventStore, StoreError};

use crate::access::{Duty, Target, authorize};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::state::{ApiState, Segments};

/// How often a live view is read again.
const EVERY: Duration = Duration::from_secs(1);

/// Reads `read` every [`EVERY`] and sends `event: <name>` with its JSON at once and then
/// whenever it differs from what was last sent; a failed read sends `event: problem`
/// with what to do, and the stream carries on.
pub fn changes<F, Fut>(name: &'static str, mut read: F) -> Response
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send + 'static,
{
    let ticks = tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(EVERY));
    let stream = ticks
        .then(move |_| read())
        .scan(None::<String>, move |last, outcome| {
            let event = match outcome {
                Ok(value) => {
                    let text = value.to_string();
                    if last.as_deref() == Some(text.as_str()) {
                        None
                    } else {
                        *last = Some(text.clone());
                        Some(SseEvent::default().event(name).data(text))
                    }
                }
                Err(problem) => Some(SseEvent::default().event("problem").data(problem.detail())),
            };
            futures::future::ready(Some(event))
        })
        .filter_map(|event| futures::future::ready(event.map(Ok::<_, Infallible>)));
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What `read` reads from the store for `key`, sent as `event: <name>` at once and again
/// whenever it changes (see [`changes`]); a store that cannot be read sends a problem.
fn follow<K, T, F, Fut>(name: &'static str, state: &ApiState, key: K, read: F) -> Response
where
    K: Clone + Send + 'static,
    T: serde::Serialize,
    F: Fn(EventStore, K) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    let store = state.store.clone();
    changes(name, move || {
        let read = read(store.clone(), key.clone());
        async move {
            let value = read.await.map_err(ApiError::unavailable)?;
            serde_json::to_value(value).map_err(ApiError::internal)
        }
    })
}

/// A community's queue, sent again whenever it changes (`event: queue`).
#[utoipa::path(
    get, path = "/api/communities/{community}/queue/live", tag = "live",
    params(("community" = String, Path, example = "hongqili")),
    responses((status = 200, description = "text/event-stream of `queue` events, each the whole queue"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn community_queue(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(community): Segments<String>,
) -> Result<Response, ApiError> {
    let community = state.community_in_path(&community)?;
    authorize(
        &principal,
        Duty::CommunityWork,
        Target::Community(&community),
        &state.catalogue,
    )?;
    Ok(follow(
        "queue",
        &state,
        community,
        |store, community| async move { whistle_community::queue(&store, &community).await },
    ))
}

/// A street dispatcher's queue, sent again whenever it changes (`event: queue`).
#[utoipa::path(
    get, path = "/api/streets/{street}/dispatch-queue/live", tag = "live",
    params(("street" = String, Path, example = "wenhualu")),
    responses((status = 200, description = "text/event-stream of `queue` events, each the whole queue"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn dispatch_queue(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(street): Segments<String>,
) -> Result<Response, ApiError> {
    let street = state.street_in_path(&street)?;
    authorize(
        &principal,
        Duty::StreetDispatch,
        Target::Street(&street),
        &state.catalogue,
    )?;
    Ok(follow(
        "queue",
        &state,
        street,
        |store, street| async move { whistle_street::queue(&store, &street).await },
    ))
}

/// A street's extension requests, sent again whenever they change (`event: extensions`).
#[utoipa::path(
    get, path = "/api/streets/{street}/extension-requests/live", tag = "live",
    params(("street" = String, Path, example = "wenhualu")),
    responses((status = 200, description = "text/event-stream of `extensions` events, each every waiting request"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn extension_requests(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(street): Segments<String>,
) -> Result<Response, ApiError> {
    let street = state.street_in_path(&street)?;
    authorize(
        &principal,
        Duty::StreetDispatch,
        Target::Street(&street),
        &state.catalogue,
    )?;
    Ok(follow(
        "extensions",
        &state,
        street,
        |store, street| async move { whistle_street::extension_requests(&store, &street).await },
    ))
}

/// A department's queue, sent again whenever it changes (`event: queue`).
#[utoipa::path(
    get, path = "/api/departments/{department}/queue/live", tag = "live",
    params(("department" = String, Path, example = "zhujian")),
    responses((status = 200, description = "text/event-stream of `queue` events, each the whole queue"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn department_queue(
    State(state): State<ApiState>,
    principal: Principal,
    Segments(department): Segments<String>,
) -> Result<Response, ApiError> {
    let department = state.department_in_path(&department)?;
    authorize(
        &principal,
        Duty::DepartmentWork,
        Target::Department(&department),
        &state.catalogue,
    )?;
    Ok(follow(
        "queue",
        &state,
        department,
        |store, department| async move { whistle_department::queue(&store, &department).await },
    ))
}
