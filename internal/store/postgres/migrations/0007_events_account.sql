-- One account's events, for incidents, in append order.
CREATE INDEX events_account ON events (account, seq);
