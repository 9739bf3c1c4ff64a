-- Event payloads and metadata are kept as the JSON text they were written as (`json`), no
-- longer parsed into `jsonb`.
--
-- Nothing queries inside an event in SQL: every reader takes whole documents, and the relay
-- and the SLA rebuild pass payloads on as text. With `jsonb`, every append parsed each
-- document into the binary form and every read printed it back as text (the larger part of
-- PostgreSQL's work per event read); `json` checks the text when it is written and hands
-- it back as it is.
--
-- Existing rows keep their content (printed from `jsonb`, so with a space after each `:`
-- and `,`). Changing the type rewrites the table under an exclusive lock: on a large log,
-- run this migration in a maintenance window (`whistle migrate`, or the first start).
ALTER TABLE events
    ALTER COLUMN payload TYPE json USING payload::json,
    ALTER COLUMN metadata DROP DEFAULT,
    ALTER COLUMN metadata TYPE json USING metadata::json,
    ALTER COLUMN metadata SET DEFAULT '{}'::json;
