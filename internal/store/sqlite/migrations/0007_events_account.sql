-- One account's events, for incidents, in append order: a read costs the account's events, not the
-- log's.
CREATE INDEX events_account ON events (account, seq);
