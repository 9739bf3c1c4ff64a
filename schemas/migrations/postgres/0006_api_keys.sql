-- Integrations' API keys. Only the SHA-256 of a key is kept: the key itself is shown once,
-- when created, and cannot be recovered from here. A revoked key keeps its row (and name)
-- so the name is not silently reused by someone else's key.
CREATE TABLE api_keys (
    name       text        PRIMARY KEY,
    -- hex SHA-256 of the whole key
    key_hash   text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz NULL
);
