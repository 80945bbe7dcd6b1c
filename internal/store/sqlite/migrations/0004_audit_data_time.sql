-- The data time an analyst action acts at (the latest event time when it was taken), beside time_ns,
-- the wall-clock time it was taken. 0 for records written before this column existed.
ALTER TABLE audit ADD COLUMN data_time_ns INTEGER NOT NULL DEFAULT 0;
