//! What the SLA engine keeps of a ticket: the instants of its life, folded from its events.
//!
//! Facts hold times, never verdicts: whether a clock was met is computed from them under a
//! policy ([`crate::clocks`]), so the same facts can be judged under another policy
//! (what-if) or at another instant (as-of).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use whistle_events::ticket::{SlaClock, SupervisionLevel};
use whistle_events::{Category, Channel, DepartmentId, Location, TicketEvent, TicketId, Urgency};

/// One summons of one department (a department summoned again after a decline or a
/// reopen has a summons per time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummonsFacts {
    /// The department.
    pub department: DepartmentId,
    /// The round of handling it belongs to.
    pub round: u32,
    /// When the whistle summoned it.
    pub summoned_at: DateTime<Utc>,
    /// When a liaison claimed it (报到).
    pub reported_in_at: Option<DateTime<Utc>>,
    /// When it was declined (退单).
    pub declined_at: Option<DateTime<Utc>>,
    /// When the department reported its result.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether the department fixed its part.
    pub fixed: Option<bool>,
    /// The latest approved extension.
    pub extended_until: Option<DateTime<Utc>>,
    /// When the ticket left the department's hands otherwise (resolved, closed, merged,
    /// reopened) while the summons was still open.
    pub withdrawn_at: Option<DateTime<Utc>>,
}

impl SummonsFacts {
    /// Whether the department still holds the summons.
    pub fn is_open(&self) -> bool {
        self.declined_at.is_none() && self.finished_at.is_none() && self.withdrawn_at.is_none()
    }
}

/// The resident's rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// When it was given.
    pub at: DateTime<Utc>,
    /// Whether the resident says the problem is solved.
    pub resolved: bool,
    /// Whether the resident is satisfied.
    pub satisfied: bool,
}

/// A pause of the completion clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When the clocks stopped.
    pub from: DateTime<Utc>,
    /// When they ran again (`None`: still paused).
    pub until: Option<DateTime<Utc>>,
}

/// The instants of one ticket's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    /// The ticket.
    pub ticket: TicketId,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Where the problem is.
    pub location: Location,
    /// What kind of problem.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// How it reached us.
    pub channel: Channel,
    /// When the community first answered.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the community took it on itself.
    pub handled_locally_at: Option<DateTime<Utc>>,
    /// When the community first called the street up.
    pub called_up_at: Option<DateTime<Utc>>,
    /// When the first whistle was blown.
    pub whistled_at: Option<DateTime<Utc>>,
    /// Every summons, in order.
    pub summonses: Vec<SummonsFacts>,
    /// The round of handling (1, more after reopening).
    pub round: u32,
    /// When the current round started (received or reopened).
    pub round_started_at: DateTime<Utc>,
    /// When the current round was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the first round was resolved.
    pub first_resolved_at: Option<DateTime<Utc>>,
    /// The latest rating.
    pub rating: Option<Rating>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// When it was merged into another ticket.
    pub merged_at: Option<DateTime<Utc>>,
    /// Pauses of the completion clocks in the current round.
    pub pauses: Vec<Pause>,
    /// Warnings recorded: clock, department, percent, due.
    pub warnings: BTreeSet<(SlaClock, Option<DepartmentId>, u8, DateTime<Utc>)>,
    /// Breaches recorded: clock, department, due.
    pub breaches: BTreeSet<(SlaClock, Option<DepartmentId>, DateTime<Utc>)>,
    /// How many times supervision was opened.
    pub supervisions: u32,
    /// Supervision opened: round, level, the department singled out. What the timer's
    /// escalation of a breach leaves behind (a rebuild reads it to tell a breach the timer
    /// finished from one it has yet to escalate).
    #[serde(default)]
    pub supervised: BTreeSet<(u32, SupervisionLevel, Option<DepartmentId>)>,
}

impl TicketFacts {
    /// The facts of a ticket that was just received.
    pub fn received(
        ticket: TicketId,
        at: DateTime<Utc>,
        received: &whistle_events::ticket::Received,
    ) -> Self {
        Self {
            ticket,
            received_at: at,
            location: received.location.clone(),
            category: received.category,
            urgency: received.urgency,
            channel: received.channel,
            acknowledged_at: None,
            handled_locally_at: None,
            called_up_at: None,
            whistled_at: None,
            summonses: Vec::new(),
            round: 1,
            round_started_at: at,
            resolved_at: None,
            first_resolved_at: None,
            rating: None,
            closed_at: None,
            merged_at: None,
            pauses: Vec::new(),
            warnings: BTreeSet::new(),
            breaches: BTreeSet::new(),
            supervisions: 0,
            supervised: BTreeSet::new(),
        }
    }

    /// Whether the ticket is still being handled (not resolved, closed or merged).
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none() && self.closed_at.is_none() && self.merged_at.is_none()
    }

    /// Whether the ticket can no longer change.
    pub fn is_final(&self) -> bool {
        self.closed_at.is_some() || self.merged_at.is_some()
    }

    /// When the ticket stopped being handled, if it did.
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        [self.resolved_at, self.closed_at, self.merged_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Folds one event (recorded at `at`) into the facts. `Received` starts the facts
    /// ([`TicketFacts::received`]) and is ignored here.
    pub fn apply(&mut self, event: &TicketEvent, at: DateTime<Utc>) {
        match event {
            TicketEvent::Received(_) => {}
            TicketEvent::Acknowledged(_) => {
                self.acknowledged_at.get_or_insert(at);
            }
            TicketEvent::HandledLocally(_) => {
                self.handled_locally_at.get_or_insert(at);
            }
            TicketEvent::CalledUp(_) => {
                self.called_up_at.get_or_insert(at);
            }
            TicketEvent::WhistleBlown(e) => {
                self.whistled_at.get_or_insert(at);
                for department in &e.departments {
                    // A whistle that names a department already at work adds nothing.
                    if self.open_summons(department).is_none() {
                        self.summonses.push(SummonsFacts {
                            department: department.clone(),
                            round: self.round,
                            summoned_at: at,
                            reported_in_at: None,
                            declined_at: None,
                            finished_at: None,
                            fixed: None,
                            extended_until: None,
                            withdrawn_at: None,
                        });
                    }
                }
            }
            TicketEvent::DepartmentReportedIn(e) => {
                if let Some(s) = self.open_summons(&e.department) {
                    s.reported_in_at.get_or_insert(at);
                }
            }
            TicketEvent::DepartmentDeclined(e) => {
                if let Some(s) = self.open_summons(&e.department) {
                    s.declined_at = Some(at);
                }
            }
            TicketEvent::DepartmentFinished(e) => {
                if let Some(s) = self.open_summons(&e.department) {
                    s.finished_at = Some(at);
                    s.fixed = Some(e.fixed);
                }
            }
            TicketEvent::ExtensionApproved(e) => {
                if let Some(s) = self.open_summons(&e.department) {
                    s.extended_until = Some(e.until);
                }
            }
            TicketEvent::Resolved(_) => {
                self.resolved_at = Some(at);
                self.first_resolved_at.get_or_insert(at);
                self.withdraw(at);
            }
            TicketEvent::FeedbackRecorded(e) => {
                self.rating = Some(Rating {
                    at,
                    resolved: e.resolved,
                    satisfied: e.satisfied,
                });
            }
            TicketEvent::Reopened(e) => {
                self.withdraw(at);
                self.round = e.round;
                self.round_started_at = at;
                self.resolved_at = None;
                self.pauses.clear();
            }
            TicketEvent::Closed(_) => {
                self.closed_at = Some(at);
                self.withdraw(at);
            }
            TicketEvent::MergedInto(_) => {
                self.merged_at = Some(at);
                self.withdraw(at);
            }
            TicketEvent::SlaPaused(_) => self.pauses.push(Pause {
                from: at,
                until: None,
            }),
            TicketEvent::SlaResumed(_) => {
                if let Some(pause) = self.pauses.last_mut().filter(|p| p.until.is_none()) {
                    pause.until = Some(at);
                }
            }
            TicketEvent::SlaWarned(e) => {
                self.warnings
                    .insert((e.clock, e.department.clone(), e.percent, e.due_at));
            }
            TicketEvent::SlaBreached(e) => {
                self.breaches
                    .insert((e.clock, e.department.clone(), e.due_at));
            }
            TicketEvent::SupervisionOpened(e) => {
                self.supervisions += 1;
                self.supervised
                    .insert((self.round, e.level, e.department.clone()));
            }
            TicketEvent::ProgressNoted(_)
            | TicketEvent::ExtensionRequested(_)
            | TicketEvent::ExtensionDenied(_)
            | TicketEvent::MergedFrom(_)
            | TicketEvent::SourceUpdated(_)
            // Erasing personal data stops no clock and starts none.
            | TicketEvent::PersonalDataErased(_) => {}
        }
    }

    fn open_summons(&mut self, department: &DepartmentId) -> Option<&mut SummonsFacts> {
        self.summonses
            .iter_mut()
            .rev()
            .find(|s| &s.department == department && s.is_open())
    }

    fn withdraw(&mut self, at: DateTime<Utc>) {
        for summons in self.summonses.iter_mut().filter(|s| s.is_open()) {
            summons.withdrawn_at = Some(at);
        }
    }

    /// Whether the ticket was ever whistled.
    pub fn whistled(&self) -> bool {
        self.whistled_at.is_some()
    }

    /// How many summonses were declined.
    pub fn declines(&self) -> usize {
        self.summonses
            .iter()
            .filter(|s| s.declined_at.is_some())
            .count()
    }
}
