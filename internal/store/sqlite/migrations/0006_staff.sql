-- The console's staff: people who sign in to the analyst console with a password (brokerguard user
-- add). The password is kept only as an argon2id hash in its encoded form
-- ($argon2id$v=19$m=…,t=…,p=…$salt$hash). failed counts failed sign-ins since the last success; at the
-- configured number the account is locked until locked_until_ns.
CREATE TABLE staff_users (
	name            TEXT    NOT NULL PRIMARY KEY,
	role            TEXT    NOT NULL,             -- analyst | supervisor | admin
	password        TEXT    NOT NULL,
	disabled        INTEGER NOT NULL DEFAULT 0,
	failed          INTEGER NOT NULL DEFAULT 0,
	locked_until_ns INTEGER NOT NULL DEFAULT 0,   -- wall clock, Unix nanoseconds; 0: not locked
	created_ns      INTEGER NOT NULL,
	changed_ns      INTEGER NOT NULL
);

-- Console sessions, kept server-side: the SHA-256 of the cookie's secret, never the secret.
CREATE TABLE staff_sessions (
	hash       BLOB    NOT NULL PRIMARY KEY,      -- 32 bytes
	user_name  TEXT    NOT NULL REFERENCES staff_users (name),
	created_ns INTEGER NOT NULL,
	seen_ns    INTEGER NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_name);

-- Where an analyst has taken an alert: acknowledged, dismissed (with a reason) or assigned. An alert
-- without a row is open. Each change is also in the audit trail.
CREATE TABLE alert_status (
	alert_id   TEXT    NOT NULL PRIMARY KEY,
	kind       TEXT    NOT NULL,
	status     TEXT    NOT NULL,                  -- open | acknowledged | dismissed
	assignee   TEXT    NOT NULL DEFAULT '',
	reason     TEXT    NOT NULL DEFAULT '',
	actor      TEXT    NOT NULL,
	changed_ns INTEGER NOT NULL
);

-- Quotes by time, for the console's price and volume chart of a symbol.
CREATE INDEX events_quote_time ON events (time_ns) WHERE type = 'quote';
