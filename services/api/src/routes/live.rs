//! Live views for consoles: a queue or a board sent again as server-sent events whenever
//! it changes, so a page shows new work without reloading.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use whistle_store::{EventStore, StoreError};

use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::state::{ApiState, Segments};

/// How often a live view is read again even when nothing new was applied: the board's
/// at-risk and breached clocks change with time alone.
const EVERY: Duration = Duration::from_secs(1);

/// How often a live view looks whether its read model's consumer applied anything new.
const PROBE: Duration = Duration::from_millis(150);

/// The consumer whose checkpoint tells that a live view's read model may have changed.
#[derive(Clone)]
pub struct Watch {
    /// Where the checkpoint is.
    pub store: EventStore,
    /// The consumer (`sla`, `community`, `street`, `department`).
    pub consumer: &'static str,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

/// What a live view last did.
#[derive(Default)]
struct Seen {
    /// The JSON last sent.
    sent: Option<String>,
    /// The watched consumer's checkpoint at the last look.
    position: Option<u64>,
    /// When `read` last ran.
    read_at: Option<tokio::time::Instant>,
}

/// Sends `event: <name>` with `read`'s JSON at once, and again whenever it differs from
/// what was last sent. `read` runs again as soon as the `watch`ed consumer applied
/// something (looked at every [`PROBE`]), and at least every [`EVERY`]. A failed read
/// sends `event: problem` with what to do, and the stream carries on.
pub fn changes<F, Fut>(name: &'static str, watch: Option<Watch>, read: F) -> Response
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send + 'static,
{
    let start = (tokio::time::interval(PROBE), Seen::default(), read, watch);
    let stream = futures::stream::unfold(
        start,
        move |(mut ticks, mut seen, mut read, watch)| async move {
            loop {
                ticks.tick().await;
                let moved = match &watch {
                    Some(w) => match w.store.checkpoint(w.consumer).await {
                        Ok(position) => {
                            seen.position.replace(position.get()) != Some(position.get())
                        }
                        Err(_) => true,
                    },
                    None => false,
                };
                let due = seen.read_at.is_none_or(|at| at.elapsed() >= EVERY);
                if !moved && !due {
                    continue;
                }
                seen.read_at = Some(tokio::time::Instant::now());
                let event = match read().await {
                    Ok(value) => {
                        let text = value.to_string();
                        if seen.sent.as_deref() == Some(text.as_str()) {
                            continue;
                        }
                        seen.sent = Some(text.clone());
                        SseEvent::default().event(name).data(text)
                    }
                    Err(problem) => SseEvent::default().event("problem").data(problem.detail()),
                };
                return Some((Ok::<_, Infallible>(event), (ticks, seen, read, watch)));
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What `read` reads from the store for `key`, sent as `event: <name>` at once and again
/// whenever it changes (see [`changes`]); a store that cannot be read sends a problem.
fn follow<K, T, F, Fut>(
    name: &'static str,
    state: &ApiState,
    consumer: &'static str,
    key: K,
    read: F,
) -> Response
where
    K: Clone + Send + 'static,
    T: serde::Serialize,
    F: Fn(EventStore, K) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    let store = state.store.clone();
    let watch = Watch {
        store: store.clone(),
        consumer,
    };
    changes(name, Some(watch), move || {
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
    let community = state.community_in_path(&principal, &community)?;
    Ok(follow(
        "queue",
        &state,
        "community",
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
    let street = state.street_in_path(&principal, &street)?;
    Ok(follow(
        "queue",
        &state,
        "street",
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
    let street = state.street_in_path(&principal, &street)?;
    Ok(follow(
        "extensions",
        &state,
        "street",
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
    let department = state.department_in_path(&principal, &department)?;
    Ok(follow(
        "queue",
        &state,
        "department",
        department,
        |store, department| async move { whistle_department::queue(&store, &department).await },
    ))
}
