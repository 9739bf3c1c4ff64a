-- Each ticket's own data key, which seals the resident's personal data in its events
-- (envelope encryption: the key is stored wrapped, encrypted with the master key that only
-- the services hold, never in the database). Erasing the personal data destroys the key:
-- `wrapped_key` becomes NULL and `erased_at` says when, and the sealed data in the log, which
-- is never rewritten, can no longer be read by anyone. Keep backups of this table no longer
-- than erasure requests allow: a restored key undoes an erasure.
CREATE TABLE ticket_keys (
    ticket_id   text        PRIMARY KEY,
    -- nonce and ciphertext of the data key under the master key; NULL once erased.
    wrapped_key bytea       NULL,
    created_at  timestamptz NOT NULL,
    erased_at   timestamptz NULL,
    CONSTRAINT ticket_keys_erased_or_present CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
);
