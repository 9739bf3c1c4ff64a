//! Group commit: concurrent appends to different streams share one database write.
//!
//! Every append goes through a queue. Writer tasks take whatever is waiting (up to
//! [`MAX_BATCH`] appends, never two to the same stream) and hand it to the backend as one
//! batch: on PostgreSQL one statement, on SQLite one transaction. Each append in a batch
//! keeps its own optimistic-concurrency check and its own all-or-nothing result, and its
//! caller hears back only after the batch is committed, so an acknowledged append is
//! durable exactly as before. What changes is the cost: one round trip, one commit and
//! one WAL flush for many commands instead of one each.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, mpsc, oneshot};

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

/// The queue in front of the backend's writers.
#[derive(Debug, Clone)]
pub(crate) struct Appender {
    queue: mpsc::Sender<Queued>,
    describe: String,
}

impl Appender {
    /// Starts `writers` writer tasks on the current runtime. They stop when the last
    /// handle to this appender is dropped.
    pub(crate) fn start<W: BatchWriter>(backend: W, writers: usize) -> Self {
        let (queue, receiver) = mpsc::channel::<Queued>(MAX_BATCH * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..writers.max(1) {
            tokio::spawn(write_loop(backend.clone(), receiver.clone()));
        }
        Self {
            queue,
            describe: backend.describe().to_owned(),
        }
    }

    /// Queues an append and waits for its result.
    pub(crate) async fn append(&self, request: AppendRequest) -> AppendResult {
        let stopped = || StoreError::Stopped {
            store: self.describe.clone(),
            stream: request.stream(),
        };
        let stopped_error = stopped();
        let (reply, answer) = oneshot::channel();
        if self.queue.send((request, reply)).await.is_err() {
            return Err(stopped_error);
        }
        answer.await.unwrap_or(Err(stopped_error))
    }
}

async fn write_loop<W: BatchWriter>(backend: W, receiver: Arc<Mutex<mpsc::Receiver<Queued>>>) {
    loop {
        let mut waiting = Vec::new();
        {
            // One writer gathers at a time; the others write their batches meanwhile.
            let mut receiver = receiver.lock().await;
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
        }
        // Two appends to one stream in one batch would race each other inside it: the
        // later ones wait for the next round.
        while !waiting.is_empty() {
            let mut streams = HashSet::new();
            let (now, later): (Vec<Queued>, Vec<Queued>) = waiting
                .into_iter()
                .partition(|(r, _)| streams.insert((r.stream_type.clone(), r.stream_id.clone())));
            waiting = later;
            // Every batch takes its streams' index locks in the same order, so two batches
            // in flight at once cannot deadlock each other on PostgreSQL.
            let mut now = now;
            now.sort_by(|(a, _), (b, _)| {
                (&a.stream_type, &a.stream_id).cmp(&(&b.stream_type, &b.stream_id))
            });
            let (requests, replies): (Vec<AppendRequest>, Vec<_>) = now.into_iter().unzip();
            let results = backend.write_batch(&requests).await;
            for (reply, result) in replies.into_iter().zip(results) {
                // A caller that stopped waiting has nothing to hear; its append stands or
                // not exactly as the batch decided.
                let _ = reply.send(result);
            }
        }
    }
}
