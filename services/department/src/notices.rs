//! Live notices to a department's liaisons: "a summons arrived", "it was claimed", …
//!
//! With NATS, notices go out on the core subject `departments.<department>.summons`, so
//! every instance's SSE streams (and any other system) see them; embedded, they go
//! through an in-process channel. Notices are best effort and carry the event id: the
//! queue itself is the truth.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use whistle_events::{DepartmentId, EventId, LiaisonId, TicketId};

/// What happened to a summons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A new summons is in the department's queue.
    Summoned,
    /// A liaison claimed it (报到).
    ReportedIn,
    /// The department declined it (退单).
    Declined,
    /// Progress was noted.
    Progress,
    /// The department reported its result.
    Finished,
    /// The ticket was resolved, closed or merged: the summons left the queue.
    Closed,
}

/// One notice, as sent on NATS and SSE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// The ticket.
    pub ticket: TicketId,
    /// The department whose queue changed.
    pub department: DepartmentId,
    /// The liaison who acted, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liaison: Option<LiaisonId>,
    /// When the event was recorded.
    pub at: DateTime<Utc>,
    /// The event behind the notice (for de-duplication).
    pub event_id: EventId,
}

/// The NATS subject of a department's notices, under `prefix` (`departments` in
/// production).
pub fn subject(prefix: &str, department: &DepartmentId) -> String {
    format!("{prefix}.{department}.summons")
}

/// The production subject prefix of notices.
pub const NOTICES_PREFIX: &str = "departments";

/// A stream of notices.
pub type NoticeStream = Pin<Box<dyn Stream<Item = Notice> + Send>>;

/// Where notices go and come from.
#[derive(Debug, Clone)]
pub enum Notices {
    /// In this process only (embedded mode).
    Local(broadcast::Sender<Notice>),
    /// NATS core subjects under a prefix, seen by every instance.
    Nats(async_nats::Client, String),
}

impl Notices {
    /// In-process notices.
    pub fn local() -> Self {
        Self::Local(broadcast::channel(1024).0)
    }

    /// Sends a notice (best effort: a failure is logged, the queue stays the truth).
    pub async fn send(&self, notice: Notice) {
        match self {
            Self::Local(sender) => {
                // No receiver is not an error: nobody is watching.
                let _ = sender.send(notice);
            }
            Self::Nats(client, prefix) => {
                let body = match serde_json::to_vec(&notice) {
                    Ok(body) => body,
                    Err(error) => {
                        tracing::warn!(%error, "cannot encode a notice");
                        return;
                    }
                };
                if let Err(error) = client
                    .publish(subject(prefix, &notice.department), body.into())
                    .await
                {
                    tracing::warn!(%error, department = %notice.department, "cannot publish a notice");
                }
            }
        }
    }

    /// The notices of `department` from now on.
    pub async fn watch(&self, department: &DepartmentId) -> Result<NoticeStream, String> {
        let department = department.clone();
        match self {
            Self::Local(sender) => {
                let stream = BroadcastStream::new(sender.subscribe()).filter_map(move |n| {
                    let department = department.clone();
                    async move { n.ok().filter(|n| n.department == department) }
                });
                Ok(Box::pin(stream))
            }
            Self::Nats(client, prefix) => {
                let subject = subject(prefix, &department);
                let subscriber = client
                    .subscribe(subject.clone())
                    .await
                    .map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
                Ok(Box::pin(subscriber.filter_map(|message| async move {
                    serde_json::from_slice::<Notice>(&message.payload).ok()
                })))
            }
        }
    }
}
