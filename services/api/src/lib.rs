//! whistle's HTTP API: every role's routes, authenticated and scoped.
//!
//! - **Who**: bearer JWTs for people, API keys for other systems ([`auth`]); residents
//!   follow their complaint with a receipt token ([`receipts`]).
//! - **May they**: one policy, [`access::authorize`], called by every route before it
//!   reads or changes anything. A ticket outside the caller's scope is a 404.
//! - **Errors**: `application/problem+json` with a stable `code` ([`error`]).
//! - **Personal data**: the resident's contact is stored sealed; it is shown in full only
//!   to the roles that call residents back, masked to the others ([`contact`]).
//! - **Routes**: intake and receipts, tickets (list, detail, timeline, clocks), community,
//!   street and department work, supervisors' boards, rankings, what-if and supervision,
//!   live server-sent events, health, readiness and metrics. The OpenAPI 3.1 document is
//!   generated from the handlers ([`openapi`]), committed as `schemas/openapi.json`, and
//!   served at `/openapi.json`.
//!
//! Handlers parse, authorize, run a command through the stage libraries or the ticket
//! executor, and map the result: no SQL and no NATS here.

pub mod access;
pub mod auth;
pub mod contact;
pub mod docs;
pub mod error;
pub mod limit;
pub mod open311;
pub mod receipts;
pub mod routes;
pub mod state;
pub mod webhooks;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{AuthConfig, Authenticator, Principal, Role, Scope, Secret};
pub use error::{ApiError, Problem};
pub use limit::RateLimiter;
pub use receipts::Receipts;
pub use state::ApiState;

use routes::{live, ops, session, supervise, tickets, work};

/// The largest request body accepted: complaints and commands are small.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "whistle",
        description = "街道吹哨、部门报到: complaints from residents and other systems, dispatched from communities to streets to departments, timed against SLA clocks. Errors are application/problem+json with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "intake", description = "Complaints, receipts and ratings (residents, hotline operators, grid workers)"),
        (name = "tickets", description = "Reading tickets: lists, details, timelines, clocks"),
        (name = "community", description = "社区: acknowledge, handle locally, call up"),
        (name = "street", description = "街道: blow the whistle, re-dispatch, extensions, merge duplicates"),
        (name = "department", description = "部门: claim (报到), decline (退单), progress, result, extensions"),
        (name = "supervisor", description = "督办: boards, rankings, at-risk and breached lists, what-if, supervision"),
        (name = "live", description = "Server-sent event streams"),
        (name = "session", description = "Who is signed in; demo accounts with demo data"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A token from `whistle token --role <role> --scope <scope>`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "An integration's key, from `whistle api-key create --name <name>`",
            ))),
        );
    }
}

/// Every documented route.
fn documented() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::jurisdiction))
        .routes(routes!(session::me))
        .routes(routes!(session::demo_accounts))
        .routes(routes!(session::demo_sign_in))
        .routes(routes!(tickets::submit_complaint))
        .routes(routes!(tickets::follow))
        .routes(routes!(tickets::rate))
        .routes(routes!(tickets::list_tickets))
        .routes(routes!(tickets::get_ticket))
        .routes(routes!(tickets::timeline))
        .routes(routes!(tickets::clocks))
        .routes(routes!(work::community_queue))
        .routes(routes!(work::acknowledge))
        .routes(routes!(work::handle_locally))
        .routes(routes!(work::call_up))
        .routes(routes!(work::resolve))
        .routes(routes!(work::dispatch_queue))
        .routes(routes!(work::extension_requests))
        .routes(routes!(work::whistle))
        .routes(routes!(work::approve_extension))
        .routes(routes!(work::deny_extension))
        .routes(routes!(work::merge))
        .routes(routes!(work::department_queue))
        .routes(routes!(work::claim))
        .routes(routes!(work::decline))
        .routes(routes!(work::progress))
        .routes(routes!(work::finish))
        .routes(routes!(work::request_extension))
        .routes(routes!(work::open_supervision))
        .routes(routes!(work::erase_personal_data))
        .routes(routes!(supervise::board))
        .routes(routes!(supervise::at_risk))
        .routes(routes!(supervise::breached))
        .routes(routes!(supervise::drill))
        .routes(routes!(supervise::ranking))
        .routes(routes!(supervise::what_if))
        .routes(routes!(supervise::alerts))
        .routes(routes!(supervise::board_live))
        .routes(routes!(supervise::department_notices))
        .routes(routes!(live::community_queue))
        .routes(routes!(live::dispatch_queue))
        .routes(routes!(live::extension_requests))
        .routes(routes!(live::department_queue))
        .routes(routes!(webhooks::publish_incident))
        .routes(routes!(webhooks::alertmanager))
}

/// The OpenAPI 3.1 document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().split_for_parts().1
}

/// The OpenAPI document as committed: pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut text = openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The whole HTTP application on `state`.
pub fn router(state: ApiState) -> Router {
    let (documented, api) = documented().split_for_parts();
    let api = std::sync::Arc::new(api);
    documented
        .route("/about", get(ops::index))
        .route("/docs", get(docs::page))
        .route(
            "/openapi.json",
            get(move || {
                let api = api.clone();
                async move { Json(api.as_ref().clone()) }
            }),
        )
        .merge(open311::routes())
        .fallback(|| async {
            ApiError::not_found(
                "no_such_route",
                "no such route; see /openapi.json or /docs for the routes",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take this method; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // A fault of ours must still answer: a problem document, logged, not a dropped
        // connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |cause: Box<dyn std::any::Any + Send + 'static>| {
                let what = cause
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| cause.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                axum::response::IntoResponse::into_response(ApiError::internal(what))
            },
        ))
        .with_state(state)
}
