-- The analyst audit trail: append-only, oldest first by seq.
CREATE TABLE audit (
	seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time_ns bigint NOT NULL,
	actor   text   NOT NULL,
	action  text   NOT NULL,
	target  text   NOT NULL,
	reason  text   NOT NULL,
	data    json   NOT NULL          -- a JSON object, as written
);
CREATE INDEX audit_target ON audit (target, seq);
