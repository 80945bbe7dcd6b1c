-- The time range of the stored events, kept by Append with the counts so that a command can say at
-- start what a store holds without reading its events: the earliest and the latest event time with
-- the offset each was written with. NULL while there are no events.
ALTER TABLE counts ADD COLUMN first_ns INTEGER;
ALTER TABLE counts ADD COLUMN first_off INTEGER;
ALTER TABLE counts ADD COLUMN last_ns INTEGER;
ALTER TABLE counts ADD COLUMN last_off INTEGER;
UPDATE counts SET
	first_ns  = (SELECT time_ns FROM events ORDER BY time_ns, seq LIMIT 1),
	first_off = (SELECT tz_offset FROM events ORDER BY time_ns, seq LIMIT 1),
	last_ns   = (SELECT time_ns FROM events ORDER BY time_ns DESC, seq DESC LIMIT 1),
	last_off  = (SELECT tz_offset FROM events ORDER BY time_ns DESC, seq DESC LIMIT 1);

-- API keys issued from the command line (brokerguard key add): the SHA-256 of the secret, never the
-- secret. A name is never reused, also after its key is revoked.
CREATE TABLE api_keys (
	name       TEXT    NOT NULL PRIMARY KEY,
	role       TEXT    NOT NULL,
	hash       BLOB    NOT NULL UNIQUE,     -- 32 bytes
	created_ns INTEGER NOT NULL,            -- wall clock, Unix nanoseconds
	revoked_ns INTEGER                      -- NULL while the key is valid
);
