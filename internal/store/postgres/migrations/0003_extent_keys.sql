-- The time range of the stored events, kept by Append with the counts so that a command can say at
-- start what a store holds without reading its events: the earliest and the latest event time with
-- the offset each was written with. NULL while there are no events.
ALTER TABLE counts
	ADD COLUMN first_ns  bigint,
	ADD COLUMN first_off integer,
	ADD COLUMN last_ns   bigint,
	ADD COLUMN last_off  integer;
UPDATE counts SET
	first_ns  = f.time_ns, first_off = f.tz_offset,
	last_ns   = l.time_ns, last_off  = l.tz_offset
FROM (SELECT time_ns, tz_offset FROM events WHERE time_ns IS NOT NULL ORDER BY time_ns, seq LIMIT 1) AS f,
	(SELECT time_ns, tz_offset FROM events WHERE time_ns IS NOT NULL ORDER BY time_ns DESC, seq DESC LIMIT 1) AS l;

-- API keys issued from the command line (brokerguard key add): the SHA-256 of the secret, never the
-- secret. A name is never reused, also after its key is revoked.
CREATE TABLE api_keys (
	name       text   PRIMARY KEY,
	role       text   NOT NULL,
	hash       bytea  NOT NULL UNIQUE CHECK (length(hash) = 32),
	created_ns bigint NOT NULL,          -- wall clock, Unix nanoseconds
	revoked_ns bigint                    -- NULL while the key is valid
);
