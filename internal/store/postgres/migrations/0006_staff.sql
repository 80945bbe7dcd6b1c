-- The console's staff: people who sign in to the analyst console with a password (brokerguard user
-- add). The password is kept only as an argon2id hash in its encoded form
-- ($argon2id$v=19$m=…,t=…,p=…$salt$hash). failed counts failed sign-ins since the last success; at the
-- configured number the account is locked until locked_until_ns.
CREATE TABLE staff_users (
	name            text     PRIMARY KEY,
	role            text     NOT NULL CHECK (role IN ('analyst', 'supervisor', 'admin')),
	password        text     NOT NULL,
	disabled        boolean  NOT NULL DEFAULT false,
	failed          integer  NOT NULL DEFAULT 0,
	locked_until_ns bigint   NOT NULL DEFAULT 0,  -- wall clock, Unix nanoseconds; 0: not locked
	created_ns      bigint   NOT NULL,
	changed_ns      bigint   NOT NULL
);

-- Console sessions, kept server-side: the SHA-256 of the cookie's secret, never the secret.
CREATE TABLE staff_sessions (
	hash       bytea  PRIMARY KEY CHECK (length(hash) = 32),
	user_name  text   NOT NULL REFERENCES staff_users (name),
	created_ns bigint NOT NULL,
	seen_ns    bigint NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_name);

-- Where an analyst has taken an alert: acknowledged, dismissed (with a reason) or assigned. An alert
-- without a row is open. Each change is also in the audit trail.
CREATE TABLE alert_status (
	alert_id   text   PRIMARY KEY,
	kind       text   NOT NULL,
	status     text   NOT NULL,                   -- open | acknowledged | dismissed
	assignee   text   NOT NULL DEFAULT '',
	reason     text   NOT NULL DEFAULT '',
	actor      text   NOT NULL,
	changed_ns bigint NOT NULL
);

-- Quotes by time, for the console's price and volume chart of a symbol.
CREATE INDEX events_quote_time ON events (time_ns) WHERE type = 'quote';
