//! Who is signed in, and the demo accounts a service started with demo data offers its
//! consoles (none otherwise).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Principal, Role, Scope};
use crate::error::{ApiError, Problem};
use crate::state::{ApiState, Segments};

/// The caller, as the consoles show them.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct MeOut {
    /// The account (token subject) or the API key's name.
    pub subject: String,
    /// What they do.
    pub role: Role,
    /// Where (`department:zhujian`).
    pub scope: String,
    /// The scope's display name (`住建`), or the scope itself for `city` and `intake`.
    pub scope_name: String,
}

/// The caller of this request: who the token says they are.
#[utoipa::path(
    get, path = "/api/me", tag = "session",
    responses((status = 200, body = MeOut), (status = 401, body = Problem)),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn me(State(state): State<ApiState>, principal: Principal) -> Json<MeOut> {
    let scope = principal.scope.to_string();
    let code = match &principal.scope {
        Scope::City | Scope::Intake => None,
        Scope::District(c) => Some(c.to_string()),
        Scope::Street(c) => Some(c.to_string()),
        Scope::Community(c) => Some(c.to_string()),
        Scope::Department(c) => Some(c.to_string()),
    };
    let scope_name = code
        .and_then(|c| state.catalogue.name_of(&c).map(str::to_owned))
        .unwrap_or_else(|| scope.clone());
    Json(MeOut {
        subject: principal.subject,
        role: principal.role,
        scope,
        scope_name,
    })
}

/// An account of the demo data, signed in with one click.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct DemoAccount {
    /// How the console names it in its address (`liaison-zhujian-wang`).
    pub name: String,
    /// The token subject (`zhujian-wang`).
    pub subject: String,
    /// What they do.
    pub role: Role,
    /// Where (`department:zhujian`).
    pub scope: String,
    /// Who they are, for people (`住建 王工`).
    pub label: String,
}

/// A demo account's token.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct DemoTokenOut {
    /// A bearer token for the account, valid for 8 hours.
    pub token: String,
}

fn demo_off() -> ApiError {
    ApiError::not_found(
        "demo_off",
        "this service has no demo accounts (they exist only with `whistle serve --demo` on a \
         loopback address); sign in with a token from `whistle token`",
    )
}

/// The demo accounts, when the service runs with demo data (`serve --demo`).
#[utoipa::path(
    get, path = "/api/demo/accounts", tag = "session",
    responses((status = 200, body = [DemoAccount]), (status = 404, body = Problem)),
    security(())
)]
pub async fn demo_accounts(
    State(state): State<ApiState>,
) -> Result<Json<Vec<DemoAccount>>, ApiError> {
    if state.demo_accounts.is_empty() {
        return Err(demo_off());
    }
    Ok(Json(state.demo_accounts.to_vec()))
}

/// Signs a token for a demo account (only with `serve --demo`).
#[utoipa::path(
    post, path = "/api/demo/accounts/{account}/sign-in", tag = "session",
    params(("account" = String, Path, description = "The demo account's `name`")),
    responses((status = 200, body = DemoTokenOut), (status = 404, body = Problem)),
    security(())
)]
pub async fn demo_sign_in(
    State(state): State<ApiState>,
    Segments(account): Segments<String>,
) -> Result<Json<DemoTokenOut>, ApiError> {
    if state.demo_accounts.is_empty() {
        return Err(demo_off());
    }
    let account = state
        .demo_accounts
        .iter()
        .find(|a| a.name == account)
        .ok_or_else(|| {
            ApiError::not_found(
                "no_such_account",
                format!("no demo account `{account}`; GET /api/demo/accounts lists them"),
            )
        })?;
    let scope: Scope = account.scope.parse().map_err(ApiError::internal)?;
    let principal =
        Principal::new(account.subject.clone(), account.role, scope).map_err(ApiError::internal)?;
    let token = state
        .auth
        .issue(
            &principal,
            state.clock.now(),
            std::time::Duration::from_secs(8 * 3600),
        )
        .map_err(ApiError::internal)?;
    Ok(Json(DemoTokenOut { token }))
}
