-- whistle's event log on PostgreSQL.
--
-- One table holds every stream. `position` is the global position: it is derived from the
-- writing transaction's id (xid8) and the event's index within the append,
--     position = (xid << 16) + index    (index 1..65535)
-- so positions are unique and strictly increasing within a transaction, and ordered by
-- transaction id across transactions. A reader only reads positions below
-- (pg_snapshot_xmin(pg_current_snapshot()) << 16): every transaction with a smaller id has
-- finished, so no event can later appear below a position already read. A plain sequence
-- would not do: sequence values are handed out at insert but become visible in commit order,
-- and a reader that takes `position > last` would skip the slower transaction's events.
CREATE TABLE events (
    position       bigint      PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    stream_type    text        NOT NULL,
    stream_id      text        NOT NULL,
    -- 1 for the first event of a stream, then 2, 3, …; gap-free per stream.
    stream_version bigint      NOT NULL CHECK (stream_version > 0),
    event_type     text        NOT NULL,
    -- three-part semver, e.g. 1.0.0
    event_version  text        NOT NULL,
    payload        jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at    timestamptz NOT NULL,
    -- Optimistic concurrency: two writers of the same version of a stream cannot both win.
    CONSTRAINT events_stream_version_unique UNIQUE (stream_type, stream_id, stream_version)
);

COMMENT ON TABLE events IS 'whistle event log: every stream, ordered by a gap-free global position (see 0001_events.sql)';
