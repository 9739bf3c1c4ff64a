//! Catch-up subscriptions to the global log.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::watch;

use crate::{EventStore, Position, RecordedEvent, StoreError};

/// Reads the global log from a position on, then waits at its head for new events.
///
/// Never skips, repeats or reorders an event: it only ever reads the stable prefix of the
/// log (see [`EventStore::read_all`]) and moves on from the last position it handed out.
/// A consumer that stores [`Subscription::position`] with its effects, in one transaction,
/// resumes exactly where it stopped.
#[derive(Debug)]
pub struct Subscription {
    store: EventStore,
    after: Position,
    buffer: VecDeque<RecordedEvent>,
    appended: watch::Receiver<u64>,
    poll_interval: Duration,
    batch_size: usize,
}

impl Subscription {
    pub(crate) fn new(
        store: EventStore,
        after: Position,
        appended: watch::Receiver<u64>,
        poll_interval: Duration,
    ) -> Self {
        Self {
            store,
            after,
            buffer: VecDeque::new(),
            appended,
            poll_interval,
            batch_size: 500,
        }
    }

    /// Reads up to `size` events per round trip (default 500).
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// The position of the last event handed out (the checkpoint to store).
    pub fn position(&self) -> Position {
        self.after
    }

    /// The next event, waiting for one if the log has no more yet. An error (database
    /// unreachable, an event this build cannot read) leaves the subscription where it was:
    /// calling again retries the same event, so nothing is skipped.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.after = event.position;
                return Ok(event);
            }
            // Mark the current append count as seen *before* reading, so an append that
            // lands between the read and the wait still wakes us.
            self.appended.borrow_and_update();
            let batch = self.store.read_all(self.after, self.batch_size).await?;
            if batch.is_empty() {
                tokio::select! {
                    _ = self.appended.changed() => {}
                    () = tokio::time::sleep(self.poll_interval) => {}
                }
                continue;
            }
            self.buffer.extend(batch);
        }
    }

    /// The next events: at least one (waiting for it if need be), and whatever else has
    /// been read already, up to `max`.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let first = self.next().await?;
        let mut batch = vec![first];
        while batch.len() < max.max(1) {
            let Some(event) = self.buffer.pop_front() else {
                break;
            };
            self.after = event.position;
            batch.push(event);
        }
        Ok(batch)
    }

    /// Like [`Subscription::next`], but gives up after `timeout` with `None`.
    pub async fn next_within(
        &mut self,
        timeout: Duration,
    ) -> Option<Result<RecordedEvent, StoreError>> {
        tokio::time::timeout(timeout, self.next()).await.ok()
    }
}
