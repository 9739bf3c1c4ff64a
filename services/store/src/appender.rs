//! Group commit: concurrent appends to different streams share one database write.
//!
//! Every append goes through a queue, chosen by its stream. Each writer task takes whatever
//! is waiting in its queue (up to [`MAX_BATCH`] appends, never two to the same stream) and
//! hands it to the backend as one batch: on PostgreSQL one statement, on SQLite one transaction. Each append in a batch
//! keeps its own optimistic-concurrency check and its own all-or-nothing result, and its
//! caller hears back only after the batch is committed, so an acknowledged append is
//! durable exactly as before. What changes is the cost: one round trip, one commit and
//! one WAL flush for many commands instead of one each.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::{NewEvent, RecordedEvent, StoreError, stream_name};

/// The most appends one batch carries.
pub(crate) const MAX_BATCH: usize = 128;

/// One append waiting in the queue.
#[derive(Debug)]
pub(crate) struct AppendRequest {
    pub(crate) stream_type: String,
    pub(crate) stream_id: String,
    pub(crate) expected: u64,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) recorded_at: DateTime<Utc>,
}

impl AppendRequest {
    pub(crate) fn stream(&self) -> String {
        stream_name(&self.stream_type, &self.stream_id)
    }
}

pub(crate) type AppendResult = Result<Vec<RecordedEvent>, StoreError>;

/// A backend that writes a batch of appends to distinct streams, answering each.
pub(crate) trait BatchWriter: Clone + Send + Sync + 'static {
    /// Writes the batch; the result at index `i` answers `batch[i]`.
    fn write_batch(
        &self,
        batch: &[AppendRequest],
    ) -> impl Future<Output = Vec<AppendResult>> + Send;

    /// The store, described without secrets.
    fn describe(&self) -> &str;
}

type Queued = (AppendRequest, oneshot::Sender<AppendResult>);

/// The queues in front of the backend's writers: one per writer, and every append to a
/// stream goes to the same writer, so one stream is never in two batches in flight (two
/// would race each other and make a whole batch fall back to one append at a time).
#[derive(Debug, Clone)]
pub(crate) struct Appender {
    queues: Vec<mpsc::Sender<Queued>>,
    describe: String,
}

impl Appender {
    /// Starts `writers` writer tasks on the current runtime. They stop when the last
    /// handle to this appender is dropped. A batch that takes longer than `timeout` is
    /// given up, and its appends are reported with an unknown outcome.
    pub(crate) fn start<W: BatchWriter>(backend: W, writers: usize, timeout: Duration) -> Self {
        let queues = (0..writers.max(1))
            .map(|_| {
                let (queue, receiver) = mpsc::channel::<Queued>(MAX_BATCH * 2);
                tokio::spawn(write_loop(backend.clone(), receiver, timeout));
                queue
            })
            .collect();
        Self {
            queues,
            describe: backend.describe().to_owned(),
        }
    }

    /// Queues an append and waits for its result.
    pub(crate) async fn append(&self, request: AppendRequest) -> AppendResult {
        let stopped = StoreError::Stopped {
            store: self.describe.clone(),
            stream: request.stream(),
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&request.stream_type, &request.stream_id).hash(&mut hasher);
        let writer = usize::try_from(hasher.finish() % self.queues.len() as u64).unwrap_or(0);
        let (reply, answer) = oneshot::channel();
        if self.queues[writer].send((request, reply)).await.is_err() {
            return Err(stopped);
        }
        answer.await.unwrap_or(Err(stopped))
    }
}

async fn write_loop<W: BatchWriter>(
    backend: W,
    mut receiver: mpsc::Receiver<Queued>,
    timeout: Duration,
) {
    loop {
        let mut waiting = Vec::new();
        match receiver.recv().await {
            Some(first) => waiting.push(first),
            None => return,
        }
        while waiting.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => waiting.push(next),
                Err(_) => break,
            }
        }
        // Two appends to one stream in one batch would race each other inside it: the
        // later ones wait for the next round.
        while !waiting.is_empty() {
            let mut streams = HashSet::new();
            let (now, later): (Vec<Queued>, Vec<Queued>) = waiting
                .into_iter()
                .partition(|(r, _)| streams.insert((r.stream_type.clone(), r.stream_id.clone())));
            waiting = later;
            // Every batch takes its streams' index locks in the same order, so batches of
            // two processes cannot deadlock each other on PostgreSQL.
            let mut now = now;
            now.sort_by(|(a, _), (b, _)| {
                (&a.stream_type, &a.stream_id).cmp(&(&b.stream_type, &b.stream_id))
            });
            let (requests, replies): (Vec<AppendRequest>, Vec<_>) = now.into_iter().unzip();
            let results = match tokio::time::timeout(timeout, backend.write_batch(&requests)).await
            {
                Ok(results) => results,
                // The statement may still commit on the server: say so, never "not written".
                Err(_) => requests
                    .iter()
                    .map(|r| {
                        Err(StoreError::OutcomeUnknown {
                            store: backend.describe().to_owned(),
                            stream: r.stream(),
                            cause: format!("no answer from the database within {timeout:?}"),
                        })
                    })
                    .collect(),
            };
            for (reply, result) in replies.into_iter().zip(results) {
                // A caller that stopped waiting has nothing to hear; its append stands or
                // not exactly as the batch decided.
                let _ = reply.send(result);
            }
        }
    }
}
