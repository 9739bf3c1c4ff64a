-- Where each named reader of the log (the relay, later the consumers) got to.
CREATE TABLE checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL CHECK (position >= 0),
    -- RFC 3339, UTC
    updated_at TEXT    NOT NULL
);
