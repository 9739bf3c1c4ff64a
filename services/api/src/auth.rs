//! Who is calling: bearer JWTs for people, API keys for other systems.
//!
//! - **JWTs** are HS256, signed with a secret from configuration. Signature, issuer,
//!   audience and expiry are all checked; the claims carry the caller's role and scope
//!   (`role: "liaison"`, `scope: "department:zhujian"`). Several secrets may be configured
//!   for rotation: the first signs, each verifies (picked by the token's `kid`).
//! - **API keys** (`X-Api-Key: wsk_…`) identify an integration. Only their SHA-256 is
//!   stored; a key is shown once, when created.
//!
//! Residents have no account: they follow their complaint with the receipt token they
//! were given (see [`crate::receipts`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use utoipa::ToSchema;
use whistle_events::{ActorId, CommunityId, DepartmentId, DistrictId, StreetId};
use whistle_store::EventStore;

use crate::error::ApiError;

/// What a caller does; each role sees and touches only its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 12345 hotline or walk-in counter: types complaints in for callers.
    Operator,
    /// 网格员: reports problems found on the grid, from a phone.
    GridWorker,
    /// 社区工作者: acknowledges, handles locally, calls up.
    Community,
    /// 街道 dispatcher: blows the whistle, re-dispatches, approves extensions.
    Street,
    /// 部门联络员: claims, declines, reports progress and result for one department.
    Liaison,
    /// 督办: boards, rankings, supervision, for a district or street.
    Supervisor,
    /// Another system publishing incidents (API keys only).
    Integration,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::Operator,
        Role::GridWorker,
        Role::Community,
        Role::Street,
        Role::Liaison,
        Role::Supervisor,
        Role::Integration,
    ];

    /// The role's name in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::GridWorker => "grid_worker",
            Role::Community => "community",
            Role::Street => "street",
            Role::Liaison => "liaison",
            Role::Supervisor => "supervisor",
            Role::Integration => "integration",
        }
    }

    /// The scope kinds the role may hold.
    fn allowed_scopes(self) -> &'static [&'static str] {
        match self {
            Role::Operator => &["intake", "city"],
            Role::GridWorker | Role::Community => &["community"],
            Role::Street => &["street"],
            Role::Liaison => &["department"],
            Role::Supervisor => &["city", "district", "street"],
            Role::Integration => &["intake"],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown role `{s}`; use one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

/// The part of the jurisdiction tree (or the department) a caller may act on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole city (operators, city-level supervisors).
    City,
    /// Submitting complaints and incidents only.
    Intake,
    /// One district (区).
    District(DistrictId),
    /// One street office (街道).
    Street(StreetId),
    /// One community (社区).
    Community(CommunityId),
    /// One department's summons.
    Department(DepartmentId),
}

impl Scope {
    fn kind(&self) -> &'static str {
        match self {
            Scope::City => "city",
            Scope::Intake => "intake",
            Scope::District(_) => "district",
            Scope::Street(_) => "street",
            Scope::Community(_) => "community",
            Scope::Department(_) => "department",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::City => f.write_str("city"),
            Scope::Intake => f.write_str("intake"),
            Scope::District(code) => write!(f, "district:{code}"),
            Scope::Street(code) => write!(f, "street:{code}"),
            Scope::Community(code) => write!(f, "community:{code}"),
            Scope::Department(code) => write!(f, "department:{code}"),
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let hint = "write `city`, `intake`, `district:<code>`, `street:<code>`, `community:<code>` or `department:<code>`";
        match s.split_once(':') {
            None if s == "city" => Ok(Scope::City),
            None if s == "intake" => Ok(Scope::Intake),
            Some(("district", code)) => DistrictId::parse(code)
                .map(Scope::District)
                .map_err(|e| e.to_string()),
            Some(("street", code)) => StreetId::parse(code)
                .map(Scope::Street)
                .map_err(|e| e.to_string()),
            Some(("community", code)) => CommunityId::parse(code)
                .map(Scope::Community)
                .map_err(|e| e.to_string()),
            Some(("department", code)) => DepartmentId::parse(code)
                .map(Scope::Department)
                .map_err(|e| e.to_string()),
            _ => Err(format!("unknown scope `{s}`; {hint}")),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account (token subject) or the API key's name.
    pub subject: String,
    /// What they do.
    pub role: Role,
    /// Where.
    pub scope: Scope,
    actor: ActorId,
}

impl Principal {
    /// Checks that `role` may hold `scope`.
    pub fn new(subject: impl Into<String>, role: Role, scope: Scope) -> Result<Self, String> {
        if !role.allowed_scopes().contains(&scope.kind()) {
            return Err(format!(
                "a {role} cannot hold scope `{scope}`; a {role}'s scope is {}",
                role.allowed_scopes()
                    .iter()
                    .map(|k| match *k {
                        "city" | "intake" => (*k).to_owned(),
                        other => format!("{other}:<code>"),
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        let subject = subject.into();
        if subject.trim().is_empty() {
            return Err("a caller needs a subject (account name)".to_owned());
        }
        Ok(Self {
            actor: actor_of(role, &subject)?,
            subject,
            role,
            scope,
        })
    }

    /// The actor recorded on the events the caller causes.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }
}

/// `<role>-<subject>`, made safe for an actor id (lower-case ASCII, digits, `-`, `_`).
fn actor_of(role: Role, subject: &str) -> Result<ActorId, String> {
    let safe: String = subject
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .take(48)
        .collect();
    ActorId::parse(format!("{}-{safe}", role.as_str().replace('_', "-")))
        .map_err(|e| format!("subject `{subject}` cannot name an actor: {e}"))
}

/// Claims of a whistle token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    role: Role,
    scope: String,
}

/// A signing secret.
#[derive(Clone)]
pub struct Secret {
    id: String,
    bytes: Vec<u8>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("bytes", &"***")
            .finish()
    }
}

impl Secret {
    /// A secret of at least 32 bytes, known as `id` in tokens' `kid`.
    pub fn new(id: impl Into<String>, bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < 32 {
            return Err(format!(
                "a token secret must hold at least 32 bytes, this one holds {}; generate one with e.g. `openssl rand -base64 48`",
                bytes.len()
            ));
        }
        Ok(Self {
            id: id.into(),
            bytes,
        })
    }

    /// Reads secrets from text: one per line, `<id> <secret>` or just `<secret>`; blank
    /// lines and `#` comments are skipped. The first signs.
    pub fn parse_all(text: &str) -> Result<Vec<Secret>, String> {
        let mut secrets = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, value) = line
                .split_once(char::is_whitespace)
                .map_or(("k1", line), |(id, v)| (id, v.trim()));
            secrets.push(
                Secret::new(id, value.as_bytes().to_vec())
                    .map_err(|e| format!("line {}: {e}", n + 1))?,
            );
        }
        if secrets.is_empty() {
            return Err("no secret found; write one per line".to_owned());
        }
        Ok(secrets)
    }

    /// A fresh random secret.
    pub fn generate(id: &str) -> Result<Self, String> {
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        Secret::new(
            id,
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(bytes)
                .into_bytes(),
        )
    }

    /// The secret as one line of a secrets file.
    pub fn to_line(&self) -> String {
        format!("{} {}", self.id, String::from_utf8_lossy(&self.bytes))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// How tokens are checked.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
    /// The first signs; every one verifies.
    pub secrets: Vec<Secret>,
}

impl AuthConfig {
    /// whistle's issuer and audience, with `secrets`.
    pub fn new(secrets: Vec<Secret>) -> Self {
        Self {
            issuer: "whistle".to_owned(),
            audience: "whistle-api".to_owned(),
            secrets,
        }
    }
}

/// Checks credentials.
#[derive(Debug, Clone)]
pub struct Authenticator {
    config: Arc<AuthConfig>,
    store: EventStore,
}

impl Authenticator {
    /// Tokens checked under `config`, API keys looked up in `store`.
    pub fn new(config: AuthConfig, store: EventStore) -> Self {
        Self {
            config: Arc::new(config),
            store,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Signs a token for `principal`, valid for `ttl` from `now`.
    pub fn issue(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<String, String> {
        issue_token(&self.config, principal, now, ttl)
    }

    /// The caller of a request: `Ok(None)` when it carries no credentials.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
        if let Some(key) = headers.get("x-api-key") {
            let key = key.to_str().map_err(|_| {
                ApiError::unauthorized("invalid_api_key", "the API key is not valid text")
            })?;
            return self.api_key(key).await.map(Some);
        }
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(None);
        };
        let value = value.to_str().unwrap_or_default();
        // Systems that can only set an Authorization header (Alertmanager) send their key
        // as `ApiKey <key>`.
        if let Some(key) = value.strip_prefix("ApiKey ") {
            return self.api_key(key).await.map(Some);
        }
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "the Authorization header must be `Bearer <token>`; get a token with `whistle token`",
            ));
        };
        self.token(token.trim()).map(Some)
    }

    /// Checks a bearer token.
    pub fn token(&self, token: &str) -> Result<Principal, ApiError> {
        verify(&self.config, token)
    }

    /// Checks an API key.
    pub async fn api_key(&self, key: &str) -> Result<Principal, ApiError> {
        let hash = api_key_hash(key.trim());
        let found = self
            .store
            .api_key_by_hash(&hash)
            .await
            .map_err(ApiError::unavailable)?;
        match found {
            Some(record) if record.revoked_at.is_none() => {
                Principal::new(record.name, Role::Integration, Scope::Intake)
                    .map_err(ApiError::internal)
            }
            Some(_) => Err(ApiError::unauthorized(
                "revoked_api_key",
                "this API key was revoked; ask an operator for a new one (`whistle api-key create`)",
            )),
            None => Err(ApiError::unauthorized(
                "invalid_api_key",
                "unknown API key; check it, or ask an operator for one (`whistle api-key create`)",
            )),
        }
    }
}

/// Signs a token for `principal` under `config`, valid for `ttl` from `now`.
pub fn issue_token(
    config: &AuthConfig,
    principal: &Principal,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<String, String> {
    let secret = config
        .secrets
        .first()
        .ok_or_else(|| "no token secret configured".to_owned())?;
    let claims = Claims {
        sub: principal.subject.clone(),
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        iat: now.timestamp(),
        exp: now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        role: principal.role,
        scope: principal.scope.to_string(),
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(secret.id.clone());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret.bytes()))
        .map_err(|e| format!("signing the token: {e}"))
}

fn verify(config: &AuthConfig, token: &str) -> Result<Principal, ApiError> {
    let invalid = |why: String| {
        ApiError::unauthorized(
            "invalid_token",
            format!("{why}; get a new token with `whistle token --role <role> --scope <scope>`"),
        )
    };
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| invalid(format!("the bearer token cannot be read ({e})")))?;
    if header.alg != Algorithm::HS256 {
        return Err(invalid(format!(
            "tokens are signed with HS256, this one says {:?}",
            header.alg
        )));
    }
    let secret = match &header.kid {
        Some(kid) => config.secrets.iter().find(|s| &s.id == kid),
        None => config.secrets.first(),
    }
    .ok_or_else(|| invalid("the token was signed with a key this server does not know".into()))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.bytes()),
        &validation,
    )
    .map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => ApiError::unauthorized(
                "token_expired",
                "the bearer token has expired; sign in again or get a new token",
            ),
            ErrorKind::InvalidIssuer => invalid("the token was issued by someone else".into()),
            ErrorKind::InvalidAudience => invalid("the token is meant for another service".into()),
            ErrorKind::InvalidSignature => invalid("the token's signature does not hold".into()),
            _ => invalid(format!("the bearer token is not valid ({e})")),
        }
    })?;
    let claims = data.claims;
    let scope: Scope = claims.scope.parse().map_err(invalid)?;
    Principal::new(claims.sub, claims.role, scope).map_err(invalid)
}

/// Makes a new API key: `wsk_` and 43 random URL-safe characters.
pub fn new_api_key() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!(
        "wsk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// What is stored of an API key: the hex SHA-256 of the whole key.
pub fn api_key_hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig::new(vec![
            Secret::new("k2", b"a-second-secret-of-at-least-32-bytes!!".to_vec()).expect("secret"),
            Secret::new("k1", b"the-first-secret-of-at-least-32-bytes!!".to_vec()).expect("secret"),
        ])
    }

    fn liaison() -> Principal {
        Principal::new(
            "zhujian-wang",
            Role::Liaison,
            Scope::Department(DepartmentId::parse("zhujian").expect("id")),
        )
        .expect("a liaison holds a department")
    }

    #[test]
    fn a_token_round_trips() {
        let config = config();
        let token =
            issue_token(&config, &liaison(), Utc::now(), Duration::from_secs(60)).expect("sign");
        assert_eq!(verify(&config, &token).expect("valid"), liaison());
    }

    #[test]
    fn expired_foreign_and_tampered_tokens_are_refused() {
        let config = config();
        let old = issue_token(
            &config,
            &liaison(),
            Utc::now() - chrono::Duration::hours(2),
            Duration::from_secs(60),
        )
        .expect("sign");
        assert_eq!(
            verify(&config, &old).expect_err("expired").code(),
            "token_expired"
        );

        let mut other = config.clone();
        other.audience = "another-service".to_owned();
        let foreign =
            issue_token(&other, &liaison(), Utc::now(), Duration::from_secs(60)).expect("sign");
        assert_eq!(
            verify(&config, &foreign).expect_err("audience").code(),
            "invalid_token"
        );

        let mut issuer = config.clone();
        issuer.issuer = "someone-else".to_owned();
        let foreign =
            issue_token(&issuer, &liaison(), Utc::now(), Duration::from_secs(60)).expect("sign");
        assert!(verify(&config, &foreign).is_err());

        let token =
            issue_token(&config, &liaison(), Utc::now(), Duration::from_secs(60)).expect("sign");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        // Swap in claims naming another department, keeping the signature.
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parts[1])
            .expect("claims");
        let forged = String::from_utf8(claims)
            .expect("json")
            .replace("department:zhujian", "department:huanwei");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
        assert_eq!(
            verify(&config, &parts.join("."))
                .expect_err("forged")
                .code(),
            "invalid_token"
        );
    }

    #[test]
    fn a_rotated_secret_still_verifies_by_kid() {
        let old = AuthConfig::new(vec![
            Secret::new("k1", b"the-first-secret-of-at-least-32-bytes!!".to_vec()).expect("secret"),
        ]);
        let token =
            issue_token(&old, &liaison(), Utc::now(), Duration::from_secs(60)).expect("sign");
        assert_eq!(verify(&config(), &token).expect("valid"), liaison());
    }

    #[test]
    fn roles_hold_only_their_kind_of_scope() {
        let street = Scope::Street(StreetId::parse("wenhualu").expect("id"));
        assert!(Principal::new("x", Role::Liaison, street.clone()).is_err());
        assert!(Principal::new("x", Role::Street, street.clone()).is_ok());
        assert!(Principal::new("x", Role::Supervisor, street).is_ok());
        assert!(Principal::new("x", Role::Community, Scope::City).is_err());
        assert_eq!(
            "department:zhujian"
                .parse::<Scope>()
                .expect("scope")
                .to_string(),
            "department:zhujian"
        );
        assert!("department:Not.Valid".parse::<Scope>().is_err());
        assert!("planet:mars".parse::<Scope>().is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(Secret::new("k", b"short".to_vec()).is_err());
        assert!(Secret::parse_all("# only a comment\n").is_err());
        let secrets = Secret::parse_all(
            "k2 the-second-secret-of-at-least-32-bytes\nk1 the-first-secret-of-at-least-32-bytes!\n",
        )
        .expect("two secrets");
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[0].id, "k2");
    }

    #[test]
    fn an_api_key_is_stored_as_its_hash() {
        let key = new_api_key().expect("a key");
        assert!(key.starts_with("wsk_") && key.len() > 40);
        let hash = api_key_hash(&key);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&key[4..]));
        assert_ne!(hash, api_key_hash(&new_api_key().expect("another key")));
    }
}
