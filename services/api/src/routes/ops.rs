//! Operations and public reference: health, readiness, metrics, the jurisdiction tree,
//! and the index page.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::state::ApiState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)), security(()))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// What `/readyz` checked.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ReadyOut {
    /// `ready`, or `unavailable`.
    pub status: String,
    /// The event store answered.
    pub database: bool,
    /// NATS is connected (`null` when embedded, without NATS).
    pub nats: Option<bool>,
}

/// Readiness: the database (and NATS, when used) can be reached.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, body = ReadyOut), (status = 503, body = ReadyOut)),
    security(())
)]
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let database = match state.store.head().await {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(error = %error, "readiness: the event store does not answer");
            false
        }
    };
    let nats = state.nats.as_ref().map(|client| {
        matches!(
            client.connection_state(),
            async_nats::connection::State::Connected
        )
    });
    let ready = database && nats.unwrap_or(true);
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(ReadyOut {
            status: if ready { "ready" } else { "unavailable" }.to_owned(),
            database,
            nats,
        }),
    )
        .into_response()
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"), (status = 500, body = Problem)),
    security(())
)]
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &state.registry)
        .map_err(ApiError::internal)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// A place or department of the jurisdiction tree.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct PlaceOut {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The code of what it is under (a street's district, a community's street).
    pub parent: Option<String>,
}

/// The jurisdiction tree and the departments.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct JurisdictionOut {
    /// The routing catalogue's version.
    pub version: String,
    /// Districts (区).
    pub districts: Vec<PlaceOut>,
    /// Street offices (街道).
    pub streets: Vec<PlaceOut>,
    /// Communities (社区).
    pub communities: Vec<PlaceOut>,
    /// Departments that can be summoned.
    pub departments: Vec<PlaceOut>,
}

/// The jurisdiction tree: districts, streets, communities, and the departments (public:
/// the intake form needs it).
#[utoipa::path(get, path = "/api/jurisdiction", tag = "intake", responses((status = 200, body = JurisdictionOut)), security(()))]
pub async fn jurisdiction(State(state): State<ApiState>) -> Json<JurisdictionOut> {
    let c = &state.catalogue;
    Json(JurisdictionOut {
        version: c.version().to_owned(),
        districts: c
            .districts()
            .map(|d| PlaceOut {
                code: d.code.to_string(),
                name: d.name.clone(),
                parent: None,
            })
            .collect(),
        streets: c
            .streets()
            .map(|s| PlaceOut {
                code: s.code.to_string(),
                name: s.name.clone(),
                parent: Some(s.district.to_string()),
            })
            .collect(),
        communities: c
            .communities()
            .map(|m| PlaceOut {
                code: m.code.to_string(),
                name: m.name.clone(),
                parent: Some(m.street.to_string()),
            })
            .collect(),
        departments: c
            .departments()
            .map(|(code, name)| PlaceOut {
                code: code.to_string(),
                name: name.to_owned(),
                parent: None,
            })
            .collect(),
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The index page: what runs, and where to go.
pub async fn index(State(state): State<ApiState>) -> Html<String> {
    let catalogue = &state.catalogue;
    let mut page = String::new();
    page.push_str("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>whistle 街道吹哨、部门报到</title>");
    page.push_str("<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}h2{margin-top:2rem}code{background:#eee;padding:0 .2rem}</style></head><body>");
    page.push_str(&format!(
        "<h1>whistle · 街道吹哨、部门报到</h1><p>Running {} on {}. Routing catalogue <code>{}</code>.</p>",
        escape(state.mode),
        escape(state.store.describe()),
        escape(catalogue.version())
    ));
    page.push_str("<h2>API</h2><ul><li><a href=\"/docs\">API documentation</a> (<a href=\"/openapi.json\">OpenAPI 3.1</a>)</li><li>Residents submit complaints with <code>POST /api/complaints</code> and follow them with their receipt token.</li><li>Staff sign in with a bearer token: <code>whistle token --role &lt;role&gt; --scope &lt;scope&gt;</code>.</li><li><a href=\"/open311/v2/services.json\">Open311 GeoReport v2</a></li></ul>");
    page.push_str("<h2>Streets and communities · 街道与社区</h2><ul>");
    for street in catalogue.streets() {
        page.push_str(&format!(
            "<li>{} <code>{}</code> ({})<ul>",
            escape(&street.name),
            street.code,
            escape(
                street
                    .policy
                    .unwrap_or(catalogue.default_policy())
                    .label_zh()
            ),
        ));
        for community in catalogue.communities_of(&street.code) {
            page.push_str(&format!(
                "<li>{} <code>{}</code></li>",
                escape(&community.name),
                community.code
            ));
        }
        page.push_str("</ul></li>");
    }
    page.push_str("</ul><h2>Departments · 职能部门</h2><ul>");
    for (code, name) in catalogue.departments() {
        page.push_str(&format!("<li>{} <code>{code}</code></li>", escape(name)));
    }
    page.push_str("</ul><h2>Operations</h2><ul><li><a href=\"/healthz\">/healthz</a></li><li><a href=\"/readyz\">/readyz</a></li><li><a href=\"/metrics\">/metrics</a></li></ul></body></html>");
    Html(page)
}
