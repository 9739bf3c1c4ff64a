//! Rebuilding the SLA read models from the log in one pass.
//!
//! The [`SlaProjection`] consumer keeps `sla_tickets` and `sla_deadlines` event by event:
//! for each event it reads the ticket's record, times its clocks and writes the record and
//! its deadline rows back. Replaying a whole log that way writes every intermediate state
//! of every ticket. A rebuild does not need them: [`rebuild`] folds the log in memory into
//! each ticket's final facts, times each ticket once, and replaces both read models and the
//! consumer's checkpoint in one transaction. The rows are the ones the consumer would have
//! left at the same position (a test holds the two side by side). Each ticket stays timed
//! under the policy version its earlier record names (the log does not say which version
//! timed it); a ticket without one is timed under the version in force at its receipt.
//!
//! The fold itself ([`fold_log`]) is also how a board as of a past instant is rebuilt
//! ([`crate::views::facts_as_of`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use whistle_consumer::{HandlerError, lease_name};
use whistle_events::{TicketEvent, TicketId};
use whistle_store::{EventStore, Lease, Position, RawRecordedEvent, RowChange, StoreError};

use crate::facts::TicketFacts;
use crate::projection::{DEADLINES, SlaProjection, TICKETS};
use crate::views::Progress;

/// Events read from the log per query.
const PAGE: usize = 2_000;
/// How long the fold waits for events below the head that a writer has not committed yet.
const HIDDEN_FOR_AT_MOST: std::time::Duration = std::time::Duration::from_secs(10);
/// Threads timing tickets at most: past a few, the `COPY` after the timing dominates.
const MAX_THREADS: usize = 4;
/// Tickets a thread times at least, about (fewer are timed on one thread: a thread costs
/// more than timing them).
const MIN_SHARE: usize = 1_000;
/// How long a rebuild waits for the consumer's lease (a `whistle serve` that has just
/// stopped gives it up when the server notices its connection closed).
const LEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Why a rebuild did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another process runs the `sla` consumer.
    #[error(
        "the sla consumer is running (a `whistle serve` on this database holds its lease); stop it, rebuild, and start it again"
    )]
    Running,
    /// Some tickets could not be timed; nothing was replaced.
    #[error(
        "{} ticket(s) cannot be timed, so nothing was replaced (the read models stay as they were); the first: ticket {}: {}. Fix the cause (usually a policy version edited after tickets were timed under it: restore it and put the change in a new version), then rebuild again",
        .0.len(),
        .0.first().map(|(t, _)| t.to_string()).unwrap_or_default(),
        .0.first().map(|(_, r)| r.as_str()).unwrap_or_default()
    )]
    Untimed(Vec<(TicketId, String)>),
    /// The consumer's lease was lost during the rebuild (its database connection broke).
    #[error(
        "the rebuild lost the sla consumer's lease (its database connection broke); nothing was replaced: rebuild again"
    )]
    LeaseLost,
}

/// What [`fold_log`] gathered: every ticket's facts, in the order tickets were received.
#[derive(Debug, Default)]
pub struct Folded {
    facts: HashMap<TicketId, TicketFacts>,
    order: Vec<TicketId>,
    /// Events read.
    pub events: u64,
    /// Ticket events whose ticket had no `Received` event before them (the consumer parks
    /// these; they change no fact).
    pub orphans: u64,
    /// The position the fold reached.
    pub position: Position,
}

impl Folded {
    fn apply(&mut self, recorded: &RawRecordedEvent) -> Result<(), StoreError> {
        let Ok(ticket) = TicketId::parse(&recorded.stream_id) else {
            self.orphans += 1;
            return Ok(());
        };
        let event = TicketEvent::decode_json(
            &recorded.event_type,
            &recorded.event_version,
            recorded.payload.get(),
        )
        .map_err(|e| {
            StoreError::Corrupt(format!(
                "event {} at position {}: {e}",
                recorded.event_id, recorded.position
            ))
        })?;
        match (&event, self.facts.get_mut(&ticket)) {
            (TicketEvent::Received(received), None) => {
                self.facts.insert(
                    ticket,
                    TicketFacts::received(ticket, recorded.recorded_at, received),
                );
                self.order.push(ticket);
            }
            (_, Some(known)) => known.apply(&event, recorded.recorded_at),
            (_, None) => self.orphans += 1,
        }
        Ok(())
    }

    /// Every ticket's facts, in the order the tickets were received.
    pub fn into_facts(mut self) -> Vec<TicketFacts> {
        self.order
            .iter()
            .filter_map(|ticket| self.facts.remove(ticket))
            .collect()
    }
}

/// Folds the log up to its head into every ticket's facts, skipping events recorded after
/// `upto` when given. `progress` is told after every page.
pub async fn fold_log(
    store: &EventStore,
    upto: Option<DateTime<Utc>>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Folded, StoreError> {
    let head = store.head().await?;
    let mut folded = Folded::default();
    // Read the next page while this one is folded: the database and the fold overlap.
    let mut next = Some(tokio::spawn(read_page(store.clone(), Position::START)));
    let mut hidden_since: Option<std::time::Instant> = None;
    while let Some(reading) = next.take() {
        let page = reading
            .await
            .map_err(|e| StoreError::Corrupt(format!("reading the log stopped: {e}")))??;
        let Some(last) = page.last() else {
            // Below the head, an event is held back only by a writer still committing
            // before it: wait for it, briefly, rather than stop short of the head.
            if folded.position >= head {
                break;
            }
            let since = *hidden_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() > HIDDEN_FOR_AT_MOST {
                return Err(StoreError::Unavailable {
                    store: store.describe().to_owned(),
                    cause: format!(
                        "the log after position {} stayed hidden behind a transaction still open for {} s; the head is {head}. Retry once it has committed",
                        folded.position,
                        HIDDEN_FOR_AT_MOST.as_secs()
                    ),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            next = Some(tokio::spawn(read_page(store.clone(), folded.position)));
            continue;
        };
        hidden_since = None;
        folded.position = last.position;
        if folded.position < head {
            next = Some(tokio::spawn(read_page(store.clone(), folded.position)));
        }
        for recorded in page.iter().filter(|e| e.position <= head) {
            folded.events += 1;
            if recorded.stream_type != "Ticket" || upto.is_some_and(|at| recorded.recorded_at > at)
            {
                continue;
            }
            folded.apply(recorded)?;
        }
        folded.position = folded.position.min(head);
        progress(Progress {
            events: folded.events,
            position: folded.position.get(),
            head: head.get(),
        });
    }
    Ok(folded)
}

/// A page of the log, payloads as stored text: each is decoded once, by the fold.
async fn read_page(
    store: EventStore,
    after: Position,
) -> Result<Vec<RawRecordedEvent>, StoreError> {
    store.read_all_raw(after, PAGE).await
}

/// What a rebuild wrote.
#[derive(Debug)]
pub struct Rebuilt {
    /// Events read from the log.
    pub events: u64,
    /// The position the read models now stand at (the consumer goes on from there).
    pub position: Position,
    /// Tickets written to `sla_tickets`.
    pub tickets: usize,
    /// Pending deadlines written to `sla_deadlines`.
    pub deadlines: usize,
    /// Ticket events with no `Received` before them (not applied, as the consumer does).
    pub orphans: u64,
    /// Every ticket's facts, for boards.
    pub facts: Vec<TicketFacts>,
}

/// Rebuilds `sla_tickets` and `sla_deadlines` from the whole log, as `projection` keeps
/// them, and moves the `sla` consumer's checkpoint to the position rebuilt. Holds the
/// consumer's lease meanwhile: fails with [`RebuildError::Running`] while a consumer runs.
/// A ticket that cannot be timed fails the rebuild ([`RebuildError::Untimed`], every such
/// ticket named) and nothing is replaced: the consumer keeps such a ticket's last good
/// record and parks only the events that fail, which a rebuild cannot reproduce.
pub async fn rebuild(
    store: &EventStore,
    projection: &SlaProjection,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Rebuilt, RebuildError> {
    let name = whistle_consumer::Handler::name(projection);
    let mut lease = take_lease(store, name).await?;
    let mut timed_under = policies_kept(store).await?;
    let folded = fold_log(store, None, progress).await?;
    let (events, position, orphans) = (folded.events, folded.position, folded.orphans);
    let tickets: Vec<_> = folded
        .into_facts()
        .into_iter()
        .map(|facts| {
            let kept = timed_under.remove(&facts.ticket);
            (facts, kept)
        })
        .collect();
    let mut rows = Vec::new();
    let mut untimed = Vec::new();
    let mut facts = Vec::with_capacity(tickets.len());
    let mut deadlines = 0;
    for (ticket_facts, timed) in time_all(projection, tickets) {
        match timed {
            Ok(changes) => {
                deadlines += changes.iter().filter(|c| c.table == DEADLINES).count();
                rows.extend(changes);
                facts.push(ticket_facts);
            }
            Err(reason) => untimed.push((ticket_facts.ticket, reason)),
        }
    }
    if !untimed.is_empty() {
        return Err(RebuildError::Untimed(untimed));
    }
    if !lease.is_held().await {
        return Err(RebuildError::LeaseLost);
    }
    store
        .replace_rows(name, &[TICKETS, DEADLINES], &rows, position)
        .await?;
    Ok(Rebuilt {
        events,
        position,
        tickets: facts.len(),
        deadlines,
        orphans,
        facts,
    })
}

/// Each ticket timed and its rows encoded, in the order given. Tickets are independent, so
/// the work is split between up to [`MAX_THREADS`] of the machine's cores (the log is read
/// by then, so the database is idle).
fn time_all(
    projection: &SlaProjection,
    tickets: Vec<(TicketFacts, Option<(String, String)>)>,
) -> Vec<(TicketFacts, Result<Vec<RowChange>, String>)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS));
    in_shares(tickets, threads, MIN_SHARE, |(facts, kept)| {
        let timed = projection
            .rebuilt_record(facts.clone(), kept)
            .and_then(|record| projection.changes_for(record, true))
            .map_err(|(HandlerError::Failed(reason) | HandlerError::Unavailable(reason))| reason);
        (facts, timed)
    })
}

/// `f` applied to every item, on up to `threads` threads (this one among them), in shares
/// of one size (the last takes what is left) and of about `min_share` items at least
/// unless there is only one; the results in the order of the items.
fn in_shares<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    min_share: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let count = items.len();
    let threads = threads.min(count / min_share.max(1)).max(1);
    let share = count.div_ceil(threads).max(1);
    let mut rest = items.into_iter();
    let here: Vec<T> = rest.by_ref().take(share).collect();
    let mut shares = Vec::new();
    loop {
        let next: Vec<T> = rest.by_ref().take(share).collect();
        if next.is_empty() {
            break;
        }
        shares.push(next);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let others: Vec<_> = shares
            .into_iter()
            .map(|share| scope.spawn(move || share.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut results = Vec::with_capacity(count);
        results.extend(here.into_iter().map(f));
        for other in others {
            match other.join() {
                Ok(more) => results.extend(more),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

/// The policy version and fingerprint each ticket is timed under, from the records the
/// rebuild replaces: a ticket keeps them for life, and they are not in the log.
async fn policies_kept(
    store: &EventStore,
) -> Result<HashMap<TicketId, (String, String)>, StoreError> {
    let mut kept = HashMap::new();
    for row in store.rows(TICKETS, "").await? {
        let field = |name: &str| {
            row.value
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        if let (Ok(ticket), Some(version), Some(fingerprint)) = (
            TicketId::parse(&row.key),
            field("policy_version"),
            field("policy_fingerprint"),
        ) {
            kept.insert(ticket, (version, fingerprint));
        }
    }
    Ok(kept)
}

/// The consumer's lease, waiting briefly for an instance that has just stopped.
async fn take_lease(store: &EventStore, name: &str) -> Result<Lease, RebuildError> {
    let started = std::time::Instant::now();
    loop {
        if let Some(lease) = store.try_lease(&lease_name(name)).await? {
            return Ok(lease);
        }
        if started.elapsed() >= LEASE_WAIT {
            return Err(RebuildError::Running);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use super::in_shares;

    /// `in_shares` over 2,503 numbers: the results, and how many items each thread took.
    fn split(threads: usize, min_share: usize) -> (Vec<u64>, HashMap<ThreadId, usize>) {
        let taken = Mutex::new(HashMap::new());
        let results = in_shares((0..2_503).collect(), threads, min_share, |i: u32| {
            *taken
                .lock()
                .expect("no test thread panics")
                .entry(std::thread::current().id())
                .or_insert(0) += 1;
            u64::from(i) * 3
        });
        (results, taken.into_inner().expect("no test thread panics"))
    }

    #[test]
    fn shares_keep_the_items_order_and_are_even() {
        let expected: Vec<u64> = (0..2_503).map(|i| i * 3).collect();
        // (threads, least share) and the shares expected, largest first.
        let cases: [((usize, usize), &[usize]); 7] = [
            ((1, 1), &[2_503]),
            ((2, 1_000), &[1_252, 1_251]),
            ((3, 1), &[835, 835, 833]),
            ((4, 700), &[835, 835, 833]),
            ((4, 1_000), &[1_252, 1_251]),
            ((8, 10_000), &[2_503]),
            ((0, 0), &[2_503]),
        ];
        for ((threads, min_share), shares) in cases {
            let (results, taken) = split(threads, min_share);
            assert_eq!(
                results, expected,
                "{threads} threads, shares of {min_share} at least"
            );
            let mut sizes: Vec<usize> = taken.values().copied().collect();
            sizes.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(
                sizes, shares,
                "{threads} threads, shares of {min_share} at least"
            );
            assert!(
                taken.contains_key(&std::thread::current().id()),
                "the calling thread takes a share"
            );
        }
        assert!(in_shares(Vec::<u32>::new(), 2, 1, |i| i).is_empty());
    }

    #[test]
    fn a_panic_in_another_share_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            in_shares((0..10).collect(), 2, 1, |i: u32| {
                assert!(i != 7, "item seven");
                i
            })
        });
        let payload = caught.expect_err("the panic of item seven comes back");
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        assert_eq!(message, Some("item seven"));
    }
}
