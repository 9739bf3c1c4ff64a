-- Who this event log is: a random id made once, when the store is created. Whatever the
-- log is copied to (a JetStream stream) carries it, so a relay never mixes two logs.
CREATE TABLE store_identity (
    id         uuid        PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO store_identity (id) VALUES (gen_random_uuid());
