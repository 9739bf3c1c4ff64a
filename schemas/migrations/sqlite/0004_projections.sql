-- Read models kept by the consumers (queues, boards). A row is a JSON document under a
-- key in a named table; a consumer writes its rows and its checkpoint in one transaction,
-- so a row never reflects an event the checkpoint does not, and replaying is harmless.
-- Every row can be rebuilt from the log.
CREATE TABLE projection_rows (
    projection TEXT NOT NULL,
    key        TEXT NOT NULL,
    -- JSON text
    value      TEXT NOT NULL,
    -- RFC 3339, UTC
    updated_at TEXT NOT NULL,
    PRIMARY KEY (projection, key)
) WITHOUT ROWID;

-- Messages a consumer gave up on after a bounded number of attempts, with the reason.
-- The consumer moved on; an operator reads them here and replays or discards them.
CREATE TABLE parked_messages (
    consumer   TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    event_id   TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    attempts   INTEGER NOT NULL,
    -- JSON text
    message    TEXT    NOT NULL,
    -- RFC 3339, UTC
    parked_at  TEXT    NOT NULL,
    PRIMARY KEY (consumer, position)
);
