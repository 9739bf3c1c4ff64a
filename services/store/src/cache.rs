//! An in-memory cache of aggregate states in front of the event store.
//!
//! Without it, every command reads and decodes the aggregate's whole stream before it can
//! decide anything: two round trips per command, and decoding work that grows with the
//! stream. With it, a command on a ticket this process touched recently starts from the
//! state the last command left, and costs one round trip: the append.
//!
//! Trusting a cached state is safe because of optimistic concurrency: a state that is stale
//! (another process or task appended since) makes the append fail with a conflict, the
//! entry is evicted, and the retry loads the stream from the log. A decision made on a
//! stale state is never recorded. A *rejection* appends nothing, so it is checked the other
//! way: the executor evicts the entry ([`CacheHandle`]) and decides once more from the log.
//!
//! This is not a cqrs-es snapshot store (those apply each new event a second time to the
//! stored state in 0.5.0): the state cached after a commit is the aggregate exactly as the
//! command left it, with each event applied once, by the command's own event sink.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope};

use crate::EventStore;

/// The cqrs-es event store whistle runs commands on: the persisted store plus a bounded
/// cache of recent aggregate states.
pub struct CachedEventStore<A: Aggregate + Clone> {
    inner: PersistedEventStore<EventStore, A>,
    // A plain map, bounded: when full, an arbitrary entry makes room. Hit rates matter
    // far less than never serving a state newer writers have not checked.
    cache: Arc<Mutex<HashMap<String, (A, usize)>>>,
    capacity: usize,
}

/// Lets the command executor evict one aggregate from the cache. A command the aggregate
/// *rejects* appends nothing, so no version check catches a stale state behind the
/// rejection: the executor evicts and decides once more from the log.
#[derive(Clone)]
pub struct CacheHandle<A> {
    cache: Arc<Mutex<HashMap<String, (A, usize)>>>,
    capacity: usize,
}

impl<A> std::fmt::Debug for CacheHandle<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheHandle")
    }
}

impl<A: Clone> CacheHandle<A> {
    /// The cached state of `id`, if it holds at least `sequence` events (a reader that
    /// needs the state including a given event asks for that event's version).
    pub fn at_least(&self, id: &str, sequence: usize) -> Option<A> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .filter(|(_, seen)| *seen >= sequence)
            .map(|(aggregate, _)| aggregate.clone())
    }

    /// Keeps a state read from the log (holding `sequence` events), unless a newer one is
    /// cached already.
    pub fn remember(&self, id: &str, aggregate: A, sequence: usize) {
        remember(
            &self.cache,
            self.capacity,
            id.to_owned(),
            aggregate,
            sequence,
        );
    }
}

/// Caches `aggregate` at `sequence` unless a newer state is cached; bounded by `capacity`.
fn remember<A>(
    cache: &Mutex<HashMap<String, (A, usize)>>,
    capacity: usize,
    id: String,
    aggregate: A,
    sequence: usize,
) {
    if capacity == 0 {
        return;
    }
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    // A slower task must not put back an older state over a newer one.
    if cache.get(&id).is_some_and(|(_, seen)| *seen >= sequence) {
        return;
    }
    if cache.len() >= capacity
        && !cache.contains_key(&id)
        && let Some(victim) = cache.keys().next().cloned()
    {
        cache.remove(&victim);
    }
    cache.insert(id, (aggregate, sequence));
}

impl<A> CacheHandle<A> {
    /// Evicts `id`; true when it was cached (so the last decision may have used it).
    pub fn forget(&self, id: &str) -> bool {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
            .is_some()
    }
}

impl<A: Aggregate + Clone> std::fmt::Debug for CachedEventStore<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedEventStore")
            .field("aggregate", &A::TYPE)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<A: Aggregate + Clone> CachedEventStore<A> {
    /// Commands on `store`, caching up to `capacity` aggregate states (0: no cache).
    pub fn new(store: EventStore, capacity: usize) -> Self {
        Self {
            // Events only: no snapshot store.
            inner: PersistedEventStore::new_event_store(store),
            cache: Arc::default(),
            capacity,
        }
    }

    /// A handle that evicts entries of this cache.
    pub fn handle(&self) -> CacheHandle<A> {
        CacheHandle {
            cache: self.cache.clone(),
            capacity: self.capacity,
        }
    }

    fn cached(&self, id: &str) -> Option<(A, usize)> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn remember(&self, id: String, aggregate: A, sequence: usize) {
        remember(&self.cache, self.capacity, id, aggregate, sequence);
    }

    fn forget(&self, id: &str) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

impl<A: Aggregate + Clone> cqrs_es::EventStore<A> for CachedEventStore<A> {
    type AC = EventStoreAggregateContext<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.inner.load_events(aggregate_id).await
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Self::AC, AggregateError<A::Error>> {
        if let Some((aggregate, current_sequence)) = self.cached(aggregate_id) {
            return Ok(EventStoreAggregateContext {
                aggregate_id: aggregate_id.to_owned(),
                aggregate,
                current_sequence,
                current_snapshot: None,
            });
        }
        self.inner.load_aggregate(aggregate_id).await
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let id = context.aggregate_id.clone();
        let base = context.current_sequence;
        // The command's sink has already applied `events` to this state.
        let after = (self.capacity > 0).then(|| context.aggregate.clone());
        match self.inner.commit(events, context, metadata).await {
            Ok(committed) => {
                if let Some(aggregate) = after {
                    self.remember(id, aggregate, base + committed.len());
                }
                Ok(committed)
            }
            Err(error) => {
                self.forget(&id);
                Err(error)
            }
        }
    }
}
