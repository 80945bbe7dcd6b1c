-- Version 8 of the SQLite store moved the lookup of event ids out of a unique index (see its
-- 0008_id_keys.sql). PostgreSQL keeps its unique indexes: its appends insert a whole batch in one
-- statement (unnest) and its buffer cache and checkpoints are the server's, tuned by its operator. This
-- migration keeps the two stores' schema versions in step.
SELECT 1;
