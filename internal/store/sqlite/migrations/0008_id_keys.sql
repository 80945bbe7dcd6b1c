-- Events and decisions keyed by seq alone, in arrival order: the unique indexes on the firm's event ids
-- (random text) took every insert at a random place of a large index. Ids are found through id_keys
-- instead (see idkeys.go): the 64-bit hash of each id with the seq of its row, written in runs, each
-- sorted by hash and placed after the runs before it. id_keys_through.seq is the last seq of each kind whose key id_keys holds; the rows after it
-- are the tail, which Open reads into memory (and merges into id_keys once it is large: after this
-- migration, every row of a store written before it).
CREATE TABLE events_v5 (
	seq       INTEGER PRIMARY KEY,
	id        TEXT    NOT NULL,
	account   TEXT    NOT NULL,          -- '' for market data
	type      TEXT    NOT NULL,
	time_ns   INTEGER NOT NULL,          -- the instant, Unix nanoseconds
	tz_offset INTEGER NOT NULL,          -- the offset it was written with, seconds east of UTC
	raw       BLOB    NOT NULL           -- the JSON object exactly as received
);
INSERT INTO events_v5 (seq, id, account, type, time_ns, tz_offset, raw)
	SELECT seq, id, account, type, time_ns, tz_offset, raw FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
-- The indexes of migrations 0006 and 0007 went with the old table.
CREATE INDEX events_quote_time ON events (time_ns) WHERE type = 'quote';
CREATE INDEX events_account ON events (account, seq);

CREATE TABLE decisions_v5 (
	seq       INTEGER PRIMARY KEY,
	event_id  TEXT    NOT NULL,          -- one decision per event id, kept by Append through id_keys
	account   TEXT    NOT NULL,
	type      TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	score     INTEGER NOT NULL,
	reasons   TEXT    NOT NULL,
	time_ns   INTEGER,
	tz_offset INTEGER NOT NULL
);
INSERT INTO decisions_v5 (seq, event_id, account, type, action, score, reasons, time_ns, tz_offset)
	SELECT seq, event_id, account, type, action, score, reasons, time_ns, tz_offset FROM decisions ORDER BY seq;
DROP TABLE decisions;
ALTER TABLE decisions_v5 RENAME TO decisions;
CREATE INDEX decisions_account ON decisions ((seq >> 13), account, seq);
CREATE INDEX decisions_action ON decisions (action, seq);

CREATE TABLE id_keys (
	kind INTEGER NOT NULL,               -- 0: events.id, 1: decisions.event_id
	run  INTEGER NOT NULL,               -- the merge that wrote it: 1, 2, …
	h    INTEGER NOT NULL,               -- the id's 64-bit hash
	seq  INTEGER NOT NULL,               -- the row's seq in its table
	PRIMARY KEY (kind, run, h, seq)
) WITHOUT ROWID;
CREATE TABLE id_keys_through (
	kind INTEGER PRIMARY KEY,
	seq  INTEGER NOT NULL
);
INSERT INTO id_keys_through VALUES (0, 0), (1, 0);
