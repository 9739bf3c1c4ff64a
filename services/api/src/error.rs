//! The one error type of the API: every failure is answered as
//! `application/problem+json` (RFC 9457) with a stable `code` a program can match on and a
//! `detail` that tells a person what to do. 5xx answers are logged with their cause chain;
//! the answer itself never carries internals.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use whistle_ticket::{CommandError, TicketError};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    /// Who holds what the request wanted (`already_claimed`, `not_holder`).
    holder: Option<String>,
    /// Extra headers (`WWW-Authenticate`, `Retry-After`).
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// The HTTP status.
    #[schema(example = 409)]
    pub status: u16,
    /// The status's name.
    #[schema(example = "Conflict")]
    pub title: String,
    /// A stable, machine-readable code.
    #[schema(example = "already_claimed")]
    pub code: String,
    /// What was wrong and what to do.
    #[schema(example = "department zhujian's summons is already claimed by zhujian-wang")]
    pub detail: String,
    /// Who holds the summons, when the answer is that someone else does
    /// (`already_claimed`, `not_holder`): the liaison's account, for consoles to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "zhujian-wang")]
    pub holder: Option<String>,
}

impl ApiError {
    /// An error with `status`, a stable `code`, and a `detail` saying what to do.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            holder: None,
            headers: Vec::new(),
        }
    }

    /// 400: the request cannot be read.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401: no credentials, or credentials that do not hold.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, code, detail);
        error.headers.push((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"whistle\""),
        ));
        error
    }

    /// 403: known caller, not allowed.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 404.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 404 for a ticket that does not exist or that the caller may not know of: the two
    /// answers are the same, so a caller learns nothing about tickets outside its scope.
    pub fn no_ticket(ticket: impl std::fmt::Display) -> Self {
        Self::not_found(
            "ticket_not_found",
            format!("no ticket {ticket} that you may see; check the id"),
        )
    }

    /// 409: the request conflicts with the resource's state.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422: the request is well-formed but its content is wrong.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 429, with the seconds to wait.
    pub fn too_many(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many complaints from this address in a short time; wait {retry_after_secs} s and send it again, or call the 12345 hotline"
            ),
        );
        if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
            error.headers.push((header::RETRY_AFTER, value));
        }
        error
    }

    /// 503: a backend cannot be reached; nothing was changed. The cause is logged.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "a backend is unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "whistle cannot reach its database or message bus right now; nothing was changed. You may safely retry the request in a moment",
        )
    }

    /// 500: a fault of whistle's own. The cause chain is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error answering a request");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "whistle failed to answer this request; the fault is logged. Try again, and report it if it persists",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The explanation.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            code: self.code.to_owned(),
            detail: self.detail,
            holder: self.holder,
        };
        let text = serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned());
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            text,
        )
            .into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// The stable code of each refusal of the ticket aggregate.
pub fn ticket_error_code(error: &TicketError) -> &'static str {
    match error {
        TicketError::NotReceived => "ticket_not_found",
        TicketError::AlreadyReceived => "ticket_id_taken",
        TicketError::Closed => "ticket_closed",
        TicketError::Merged { .. } => "ticket_merged",
        TicketError::AlreadyAcknowledged => "already_acknowledged",
        TicketError::NotAcknowledged => "not_acknowledged",
        TicketError::WrongStage { .. } => "wrong_stage",
        TicketError::NoDepartments => "no_departments",
        TicketError::DuplicateDepartment(_) => "duplicate_department",
        TicketError::AlreadySummoned(_) => "already_summoned",
        TicketError::LeadNotSummoned(_) => "lead_not_summoned",
        TicketError::NotSummoned(_) => "not_summoned",
        TicketError::AlreadyClaimed { .. } => "already_claimed",
        TicketError::NotClaimed(_) => "not_claimed",
        TicketError::NotHolder { .. } => "not_holder",
        TicketError::SummonsDeclined(_) => "summons_declined",
        TicketError::AlreadyFinished(_) => "already_finished",
        TicketError::ExtensionPending(_) => "extension_pending",
        TicketError::NoExtensionPending(_) => "no_extension_pending",
        TicketError::ExtensionNotInFuture { .. } => "extension_not_in_future",
        TicketError::DepartmentsOutstanding(_) => "departments_outstanding",
        TicketError::ResidentSatisfied => "resident_satisfied",
        TicketError::FeedbackBeforeResolution => "not_resolved",
        TicketError::FeedbackAlreadyRecorded => "feedback_recorded",
        TicketError::NoFeedback => "no_feedback",
        TicketError::FeedbackGiven => "feedback_given",
        TicketError::UnsatisfiedFeedback => "unsatisfied_feedback",
        TicketError::SummonsOpen(_) => "summons_open",
        TicketError::SelfMerge => "self_merge",
        TicketError::AlreadySupervised => "already_supervised",
        TicketError::AlreadyPaused => "already_paused",
        TicketError::NotPaused => "not_paused",
        TicketError::WarningPercent(_) => "warning_percent",
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Rejected(TicketError::NotReceived) => ApiError::no_ticket("with this id"),
            // A refusal that is about the request's content, not the ticket's state.
            CommandError::Rejected(
                e @ (TicketError::NoDepartments
                | TicketError::DuplicateDepartment(_)
                | TicketError::SelfMerge
                | TicketError::ExtensionNotInFuture { .. }),
            ) => ApiError::unprocessable(ticket_error_code(&e), e.to_string()),
            CommandError::Rejected(e) => {
                let holder = match &e {
                    TicketError::AlreadyClaimed { holder, .. }
                    | TicketError::NotHolder { holder, .. } => Some(holder.to_string()),
                    _ => None,
                };
                let mut error = ApiError::conflict(ticket_error_code(&e), e.to_string());
                error.holder = holder;
                error
            }
            e @ CommandError::Conflict { .. } => ApiError::conflict("ticket_busy", e.to_string()),
            CommandError::Unavailable(cause) => ApiError::unavailable(cause),
            CommandError::OutcomeUnknown(cause) => {
                tracing::error!(cause = %cause, "a command's outcome is unknown");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "outcome_unknown",
                    "the change was sent but not confirmed; read the ticket's timeline before trying again",
                )
            }
            CommandError::Unreadable(cause) | CommandError::Store(cause) => {
                ApiError::internal(cause)
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
            _ => "malformed_body",
        };
        let hint = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "; send the body as JSON with `Content-Type: application/json`"
            }
            StatusCode::PAYLOAD_TOO_LARGE => "; send a smaller body",
            _ => "; see /openapi.json for the expected fields",
        };
        ApiError::new(status, code, format!("{}{hint}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "{}; see /openapi.json for this route's parameters",
                rejection.body_text()
            ),
        )
    }
}
