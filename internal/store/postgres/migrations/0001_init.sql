-- Events as received, in the order they were accepted. Appends hold an advisory lock for their whole
-- transaction, so seq is assigned in commit order and is the cursor of ScanEvents. The UNIQUE
-- constraint on id is what makes a retried batch idempotent.
CREATE TABLE events (
	seq       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id        text    NOT NULL UNIQUE,
	account   text    NOT NULL,          -- '' for market data
	type      text    NOT NULL,
	time_ns   bigint,                    -- the instant, Unix nanoseconds (timestamptz keeps only microseconds)
	tz_offset integer NOT NULL,          -- the offset it was written with, seconds east of UTC
	raw       bytea   NOT NULL           -- the JSON object exactly as received
);

-- One decision per decided event; the first one stored wins.
CREATE TABLE decisions (
	seq       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id  text    NOT NULL UNIQUE,
	account   text    NOT NULL,
	type      text    NOT NULL,
	action    text    NOT NULL,          -- allow | review | challenge | hold | block
	score     integer NOT NULL,
	reasons   json    NOT NULL,          -- [{"code","detail"}], most important first, as written
	time_ns   bigint,
	tz_offset integer NOT NULL
);
CREATE INDEX decisions_account ON decisions (account, seq);
CREATE INDEX decisions_action ON decisions (action, seq);

-- Decisions of shadow rule sets, recorded and never acted on: one per rule set and event.
CREATE TABLE shadow_decisions (
	seq       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rule_set  text    NOT NULL,
	event_id  text    NOT NULL,
	account   text    NOT NULL,
	type      text    NOT NULL,
	action    text    NOT NULL,
	score     integer NOT NULL,
	reasons   json    NOT NULL,
	time_ns   bigint,
	tz_offset integer NOT NULL,
	UNIQUE (rule_set, event_id)
);
CREATE INDEX shadow_decisions_account ON shadow_decisions (account, seq);
CREATE INDEX shadow_decisions_action ON shadow_decisions (action, seq);

CREATE TABLE alerts (
	seq       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id        text    NOT NULL UNIQUE,
	kind      text    NOT NULL,
	time_ns   bigint,
	tz_offset integer NOT NULL,
	score     integer NOT NULL,
	reasons   json    NOT NULL,
	symbols   text[]  NOT NULL,          -- in the alert's order
	accounts  text[]  NOT NULL
);
CREATE INDEX alerts_kind ON alerts (kind, seq);

-- The accounts and symbols each alert names, for AlertQuery; written with the alert, never alone.
CREATE TABLE alert_accounts (
	account   text   NOT NULL,
	alert_seq bigint NOT NULL REFERENCES alerts (seq),
	PRIMARY KEY (account, alert_seq)
);

CREATE TABLE alert_symbols (
	symbol    text   NOT NULL,
	alert_seq bigint NOT NULL REFERENCES alerts (seq),
	PRIMARY KEY (symbol, alert_seq)
);

-- The number of rows of each table, kept by Append in the same transaction so that Counts does not
-- scan tables of millions of rows.
CREATE TABLE counts (
	one              integer PRIMARY KEY CHECK (one = 1),
	events           bigint  NOT NULL,
	decisions        bigint  NOT NULL,
	shadow_decisions bigint  NOT NULL,
	alerts           bigint  NOT NULL
);
INSERT INTO counts VALUES (1, 0, 0, 0, 0);
