-- Events as received, in the order they were accepted. seq is the rowid: it only grows, and the
-- single writer assigns it in commit order, so it is the cursor of ScanEvents. The UNIQUE index on id
-- is what makes a retried batch idempotent.
CREATE TABLE events (
	seq       INTEGER PRIMARY KEY,
	id        TEXT    NOT NULL UNIQUE,
	account   TEXT    NOT NULL,          -- '' for market data
	type      TEXT    NOT NULL,
	time_ns   INTEGER NOT NULL,          -- the instant, Unix nanoseconds
	tz_offset INTEGER NOT NULL,          -- the offset it was written with, seconds east of UTC
	raw       BLOB    NOT NULL           -- the JSON object exactly as received
);

-- One decision per decided event; the first one stored wins.
CREATE TABLE decisions (
	seq       INTEGER PRIMARY KEY,
	event_id  TEXT    NOT NULL UNIQUE,
	account   TEXT    NOT NULL,
	type      TEXT    NOT NULL,
	action    TEXT    NOT NULL,          -- allow | review | challenge | hold | block
	score     INTEGER NOT NULL,
	reasons   TEXT    NOT NULL,          -- JSON array of {"code","detail"}, most important first
	time_ns   INTEGER,                   -- NULL when the decision carried no time
	tz_offset INTEGER NOT NULL
);
-- Decisions by account, newest first. Accounts interleave, so an index led by account takes each
-- batch's decisions at random places and rewrites most of its pages at every append once it is large.
-- Led by the segment of 8192 decisions (seq >> 13), the pages a batch touches are those of the last
-- segment only; a query by account probes each segment's (account, seq) range in turn.
CREATE INDEX decisions_account ON decisions ((seq >> 13), account, seq);
CREATE INDEX decisions_action ON decisions (action, seq);

-- Decisions of shadow rule sets, recorded and never acted on: one per rule set and event.
CREATE TABLE shadow_decisions (
	seq       INTEGER PRIMARY KEY,
	rule_set  TEXT    NOT NULL,
	event_id  TEXT    NOT NULL,
	account   TEXT    NOT NULL,
	type      TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	score     INTEGER NOT NULL,
	reasons   TEXT    NOT NULL,
	time_ns   INTEGER,
	tz_offset INTEGER NOT NULL,
	UNIQUE (rule_set, event_id)
);
CREATE INDEX shadow_decisions_account ON shadow_decisions ((seq >> 13), account, seq);
CREATE INDEX shadow_decisions_action ON shadow_decisions (action, seq);

CREATE TABLE alerts (
	seq       INTEGER PRIMARY KEY,
	id        TEXT    NOT NULL UNIQUE,
	kind      TEXT    NOT NULL,
	time_ns   INTEGER,
	tz_offset INTEGER NOT NULL,
	score     INTEGER NOT NULL,
	reasons   TEXT    NOT NULL,          -- JSON array, as in decisions
	symbols   TEXT    NOT NULL,          -- JSON array of strings, in the alert's order
	accounts  TEXT    NOT NULL           -- JSON array of strings, in the alert's order
);
CREATE INDEX alerts_kind ON alerts (kind, seq);

-- The accounts and symbols each alert names, for AlertQuery; written with the alert, never alone.
CREATE TABLE alert_accounts (
	account   TEXT    NOT NULL,
	alert_seq INTEGER NOT NULL,
	PRIMARY KEY (account, alert_seq)
) WITHOUT ROWID;

CREATE TABLE alert_symbols (
	symbol    TEXT    NOT NULL,
	alert_seq INTEGER NOT NULL,
	PRIMARY KEY (symbol, alert_seq)
) WITHOUT ROWID;

-- The number of rows of each table, kept by Append in the same transaction so that Counts does not
-- scan tables of millions of rows.
CREATE TABLE counts (
	one              INTEGER PRIMARY KEY CHECK (one = 1),
	events           INTEGER NOT NULL,
	decisions        INTEGER NOT NULL,
	shadow_decisions INTEGER NOT NULL,
	alerts           INTEGER NOT NULL
);
INSERT INTO counts VALUES (1, 0, 0, 0, 0);
