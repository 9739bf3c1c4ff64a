//! What every handler can reach, and the small parsing helpers they share.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Json, Query, Request};
use axum::http::request::Parts;
use prometheus_client::registry::Registry;
use serde::de::DeserializeOwned;
use whistle_clock::Clock;
use whistle_department::Notices;
use whistle_events::{CommunityId, DepartmentId, Location, StreetId, TicketId};
use whistle_routing::Catalogue;
use whistle_sla::calendar::Calendar;
use whistle_sla::policy::PolicyBook;
use whistle_sla::stats::RankingBook;
use whistle_sla::timer::Alerts;
use whistle_store::EventStore;
use whistle_ticket::{Stage, Ticket, Tickets};

use crate::access::{Duty, Target, authorize};
use crate::auth::{Authenticator, Principal};
use crate::error::ApiError;
use crate::limit::RateLimiter;
use crate::receipts::Receipts;

/// Everything the routes use. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The event store (read models, raw log).
    pub store: EventStore,
    /// The one way to change a ticket.
    pub tickets: Arc<Tickets>,
    /// The jurisdiction tree and routing rules.
    pub catalogue: Arc<Catalogue>,
    /// Departments' live notices.
    pub notices: Notices,
    /// SLA breaches as they happen.
    pub alerts: Alerts,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// SLA policy versions.
    pub policies: Arc<PolicyBook>,
    /// The business calendar.
    pub calendar: Arc<Calendar>,
    /// Ranking weights.
    pub weights: Arc<RankingBook>,
    /// Metrics for `/metrics`.
    pub registry: Arc<Registry>,
    /// Checks credentials.
    pub auth: Authenticator,
    /// Residents' receipt tokens.
    pub receipts: Receipts,
    /// Incident messages, as on NATS.
    pub intake: whistle_intake::Intake,
    /// Intake's subjects (namespaced like the rest of this deployment's NATS names): the
    /// subject an HTTP incident is decided as, and where its rejection is kept.
    pub intake_config: whistle_intake::IntakeConfig,
    /// Public intake's rate limit.
    pub limiter: Arc<RateLimiter>,
    /// NATS, when in use (for `/readyz`).
    pub nats: Option<async_nats::Client>,
    /// "embedded" or "NATS JetStream".
    pub mode: &'static str,
    /// The demo accounts the consoles offer (only with demo data; empty otherwise).
    pub demo_accounts: Arc<[crate::routes::session::DemoAccount]>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("store", &self.store.describe())
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// A ticket loaded for a request, with what authorization needs.
#[derive(Debug)]
pub struct Loaded {
    /// The ticket's id.
    pub id: TicketId,
    /// Its state.
    pub ticket: Ticket,
    /// Where it is.
    pub location: Location,
    /// Every department summoned on it.
    pub departments: Vec<DepartmentId>,
}

impl Loaded {
    /// The authorization target.
    pub fn target(&self) -> Target<'_> {
        Target::Ticket {
            location: &self.location,
            departments: &self.departments,
        }
    }
}

impl ApiState {
    /// Parses `id`, loads the ticket, and checks `principal` may do `duty` on it. A ticket
    /// that does not exist and one outside the scope answer the same 404.
    pub async fn ticket_for(
        &self,
        principal: &Principal,
        duty: Duty,
        id: &str,
    ) -> Result<Loaded, ApiError> {
        let loaded = self.load_ticket(id).await?;
        authorize(principal, duty, loaded.target(), &self.catalogue)?;
        Ok(loaded)
    }

    /// The community a path names, whose work `principal` may do (its queue): 400 for a
    /// malformed code, 404 for one not in the jurisdiction tree, 403 outside the scope.
    pub fn community_in_path(
        &self,
        principal: &Principal,
        code: &str,
    ) -> Result<CommunityId, ApiError> {
        let community = self.known_community(code)?;
        authorize(
            principal,
            Duty::CommunityWork,
            Target::Community(&community),
            &self.catalogue,
        )?;
        Ok(community)
    }

    /// The street a path names, whose dispatching `principal` may do: as
    /// [`ApiState::community_in_path`].
    pub fn street_in_path(&self, principal: &Principal, code: &str) -> Result<StreetId, ApiError> {
        let street = self.known_street(code)?;
        authorize(
            principal,
            Duty::StreetDispatch,
            Target::Street(&street),
            &self.catalogue,
        )?;
        Ok(street)
    }

    /// The department a path names, whose summonses `principal` may work: as
    /// [`ApiState::community_in_path`].
    pub fn department_in_path(
        &self,
        principal: &Principal,
        code: &str,
    ) -> Result<DepartmentId, ApiError> {
        let department = self.known_department(code)?;
        authorize(
            principal,
            Duty::DepartmentWork,
            Target::Department(&department),
            &self.catalogue,
        )?;
        Ok(department)
    }

    /// A community code: 400 for a malformed one, 404 for one not in the jurisdiction tree.
    fn known_community(&self, code: &str) -> Result<CommunityId, ApiError> {
        let community: CommunityId = parse_id("community", code)?;
        match self.catalogue.community(&community) {
            Some(_) => Ok(community),
            None => Err(ApiError::not_found(
                "unknown_community",
                format!(
                    "no community `{community}` in the jurisdiction tree; see /api/jurisdiction"
                ),
            )),
        }
    }

    /// A street code: 400 for a malformed one, 404 for one not in the tree.
    fn known_street(&self, code: &str) -> Result<StreetId, ApiError> {
        let street: StreetId = parse_id("street", code)?;
        match self.catalogue.street(&street) {
            Some(_) => Ok(street),
            None => Err(ApiError::not_found(
                "unknown_street",
                format!("no street `{street}` in the jurisdiction tree; see /api/jurisdiction"),
            )),
        }
    }

    /// A department code: 400 for a malformed one, 404 for one not in the catalogue.
    fn known_department(&self, code: &str) -> Result<DepartmentId, ApiError> {
        let department: DepartmentId = parse_id("department", code)?;
        if self.catalogue.departments().any(|(d, _)| *d == department) {
            Ok(department)
        } else {
            Err(ApiError::not_found(
                "unknown_department",
                format!("no department `{department}` in the catalogue; see /api/jurisdiction"),
            ))
        }
    }

    /// The department a request body names: an unknown one is content the caller got
    /// wrong (422), not a missing resource.
    pub fn department_in_body(&self, code: &str) -> Result<DepartmentId, ApiError> {
        self.known_department(code).map_err(|e| {
            if e.code() == "unknown_department" {
                ApiError::unprocessable("unknown_department", e.detail().to_owned())
            } else {
                e
            }
        })
    }

    /// Loads a ticket without authorization (for receipt holders, whose token is their
    /// authorization).
    pub async fn load_ticket(&self, id: &str) -> Result<Loaded, ApiError> {
        let id = TicketId::parse(id.trim()).map_err(|_| ApiError::no_ticket(id))?;
        let ticket = self.tickets.load(id).await?;
        let Some(received) = ticket.received() else {
            return Err(ApiError::no_ticket(id));
        };
        if ticket.stage() == Stage::New {
            return Err(ApiError::no_ticket(id));
        }
        let location = received.location.clone();
        let departments = ticket.summonses().keys().cloned().collect();
        Ok(Loaded {
            id,
            ticket,
            location,
            departments,
        })
    }
}

/// A JSON body whose failures are problem documents (400, 413, 415, 422).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| Self(value))
            .map_err(ApiError::from)
    }
}

/// Query parameters whose failures are problem documents (400).
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(ApiError::from)
    }
}

/// Path segments whose failures are problem documents (400).
#[derive(Debug)]
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|e: PathRejection| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// Parses one id from a path or body, answering 400 with the parser's explanation.
pub fn parse_id<T: std::str::FromStr>(field: &str, value: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse::<T>()
        .map_err(|e| ApiError::bad_request("invalid_id", format!("{field}: {e}")))
}

/// A caller that must be authenticated: missing credentials are a 401.
impl FromRequestParts<ApiState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        match state.auth.authenticate(&parts.headers).await? {
            Some(principal) => Ok(principal),
            None => Err(ApiError::unauthorized(
                "missing_credentials",
                "this route needs `Authorization: Bearer <token>` (people) or `X-Api-Key: <key>` (systems); get a token with `whistle token`",
            )),
        }
    }
}

/// A caller that may be anonymous (public intake).
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<ApiState> for MaybePrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        state.auth.authenticate(&parts.headers).await.map(Self)
    }
}
