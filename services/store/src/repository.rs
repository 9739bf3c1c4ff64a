//! The event store behind cqrs-es: `PersistedEventRepository`.
//!
//! Only events: this repository refuses snapshot updates, because cqrs-es 0.5.0's snapshot
//! stores apply every event twice to the stored snapshot. Aggregates are rebuilt from their
//! stream (`PersistedEventStore::new_event_store`).

use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use serde_json::Value;
use whistle_events::EventId;

use crate::{EventStore, NewEvent, Position, RecordedEvent, StoreError, metadata_from_json};

fn to_persistence(error: StoreError) -> PersistenceError {
    match error {
        StoreError::WrongExpectedVersion { .. } => PersistenceError::OptimisticLockError,
        StoreError::Unavailable { .. } => PersistenceError::ConnectionError(Box::new(error)),
        StoreError::UnknownEvent { .. } | StoreError::MalformedEvent { .. } => {
            PersistenceError::DeserializationError(Box::new(error))
        }
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

fn serialized(event: RecordedEvent) -> SerializedEvent {
    let metadata = Value::Object(
        event
            .metadata
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    );
    SerializedEvent {
        aggregate_id: event.stream_id,
        sequence: usize::try_from(event.stream_version).unwrap_or(usize::MAX),
        aggregate_type: event.stream_type,
        event_type: event.event_type,
        event_version: event.event_version,
        payload: event.payload,
        metadata,
    }
}

impl PersistedEventRepository for EventStore {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.get_last_events::<A>(aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self
            .read_stream(A::TYPE, aggregate_id, last_sequence as u64)
            .await
            .map_err(to_persistence)?;
        Ok(events.into_iter().map(serialized).collect())
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let stream = |id: &str| format!("{}-{id}", A::TYPE);
        if let Some((id, _, _)) = snapshot_update {
            return Err(to_persistence(StoreError::InvalidAppend {
                stream: stream(&id),
                reason: "snapshots are not supported; build the store with PersistedEventStore::new_event_store".into(),
            }));
        }
        let Some(first) = events.first() else {
            return Ok(());
        };
        for (offset, event) in events.iter().enumerate() {
            if event.aggregate_id != first.aggregate_id || event.sequence != first.sequence + offset
            {
                return Err(to_persistence(StoreError::InvalidAppend {
                    stream: stream(&first.aggregate_id),
                    reason: format!(
                        "events must belong to one stream with consecutive sequences; event {offset} is {} #{}",
                        event.aggregate_id, event.sequence
                    ),
                }));
            }
        }
        let new_events = events
            .iter()
            .map(|e| NewEvent {
                event_id: EventId::new(),
                event_type: e.event_type.clone(),
                event_version: e.event_version.clone(),
                payload: e.payload.clone(),
                metadata: metadata_from_json(e.metadata.clone()),
            })
            .collect();
        let expected = first.sequence.saturating_sub(1) as u64;
        self.append(A::TYPE, &first.aggregate_id, expected, new_events)
            .await
            .map_err(to_persistence)?;
        Ok(())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        let (mut feed, stream) = ReplayStream::new(events.len().max(1));
        for event in events {
            feed.push(Ok(event)).await?;
        }
        Ok(stream)
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let (mut feed, stream) = ReplayStream::new(256);
        let store = self.clone();
        // Replays every event of this aggregate type in log order, page by page, up to the
        // stable head at the time of the call.
        tokio::spawn(async move {
            let mut after = Position::START;
            loop {
                match store.read_all(after, 1_000).await {
                    Ok(batch) if batch.is_empty() => return,
                    Ok(batch) => {
                        for event in batch {
                            after = event.position;
                            if event.stream_type == A::TYPE
                                && feed.push(Ok(serialized(event))).await.is_err()
                            {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = feed.push(Err(to_persistence(e))).await;
                        return;
                    }
                }
            }
        });
        Ok(stream)
    }
}
