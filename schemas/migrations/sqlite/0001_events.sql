-- whistle's event log on SQLite (the embedded default, one file).
--
-- SQLite lets one writer in at a time and rowids are handed out inside the write
-- transaction, so AUTOINCREMENT rowid order is commit order: `position > last` never skips.
-- AUTOINCREMENT (not a plain rowid) so a position is never reused.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT    NOT NULL UNIQUE,
    stream_type    TEXT    NOT NULL,
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL CHECK (stream_version > 0),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL CHECK (json_valid(payload)),
    metadata       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    -- RFC 3339, UTC
    recorded_at    TEXT    NOT NULL,
    UNIQUE (stream_type, stream_id, stream_version)
);
