-- Read models kept by the consumers (queues, boards). A row is a JSON document under a
-- key in a named table; a consumer writes its rows and its checkpoint in one transaction,
-- so a row never reflects an event the checkpoint does not, and replaying is harmless.
-- Every row can be rebuilt from the log.
CREATE TABLE projection_rows (
    projection text        NOT NULL,
    -- "C": keys sort by code point, so a prefix is one range of the primary key.
    key        text        COLLATE "C" NOT NULL,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (projection, key)
);

-- Messages a consumer gave up on after a bounded number of attempts, with the reason.
-- The consumer moved on; an operator reads them here and replays or discards them.
CREATE TABLE parked_messages (
    consumer   text        NOT NULL,
    position   bigint      NOT NULL,
    event_id   text        NOT NULL,
    reason     text        NOT NULL,
    attempts   integer     NOT NULL,
    message    jsonb       NOT NULL,
    parked_at  timestamptz NOT NULL,
    PRIMARY KEY (consumer, position)
);
