-- Who this event log is: a random id made once, when the store is created. Whatever the
-- log is copied to (a JetStream stream) carries it, so a relay never mixes two logs.
CREATE TABLE store_identity (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO store_identity (id) VALUES (lower(hex(randomblob(16))));
