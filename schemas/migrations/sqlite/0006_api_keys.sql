-- Integrations' API keys. Only the SHA-256 of a key is kept: the key itself is shown once,
-- when created, and cannot be recovered from here. A revoked key keeps its row (and name)
-- so the name is not silently reused by someone else's key.
CREATE TABLE api_keys (
    name       TEXT PRIMARY KEY,
    -- hex SHA-256 of the whole key
    key_hash   TEXT NOT NULL UNIQUE,
    -- RFC 3339, UTC
    created_at TEXT NOT NULL,
    -- RFC 3339, UTC; NULL while the key is active.
    revoked_at TEXT NULL
) WITHOUT ROWID;
