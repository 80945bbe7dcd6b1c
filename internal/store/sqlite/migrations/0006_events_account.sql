-- One account's events, for incidents: led by the segment of 8192 events (seq >> 13) like
-- decisions_account, so that appends touch only the last segment's pages; a query by account probes
-- each segment's (account, seq) range in turn.
CREATE INDEX events_account ON events ((seq >> 13), account, seq);
