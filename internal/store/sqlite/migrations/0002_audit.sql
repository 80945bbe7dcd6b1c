-- The analyst audit trail: append-only, oldest first by seq.
CREATE TABLE audit (
	seq     INTEGER PRIMARY KEY,
	time_ns INTEGER NOT NULL,
	actor   TEXT    NOT NULL,
	action  TEXT    NOT NULL,
	target  TEXT    NOT NULL,
	reason  TEXT    NOT NULL,
	data    TEXT    NOT NULL          -- a JSON object
);
CREATE INDEX audit_target ON audit (target, seq);
