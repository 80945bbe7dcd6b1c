-- The audit trail becomes a hash chain (store.AuditHash): each record keeps the hash of the record
-- before it and its own. The records written before this migration are chained when the store next
-- opens; audit_chain_pending names the last of them, so that a hash removed later is reported, never
-- made again.
ALTER TABLE audit ADD COLUMN prev_hash BLOB;
ALTER TABLE audit ADD COLUMN hash BLOB;
CREATE TABLE audit_chain_pending (upto INTEGER NOT NULL);
INSERT INTO audit_chain_pending SELECT seq FROM audit ORDER BY seq DESC LIMIT 1;
