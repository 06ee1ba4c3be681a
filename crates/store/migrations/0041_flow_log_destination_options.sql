-- Flow logs (issue 5): EC2's DestinationOptions. FileFormat is 'plain-text' (gzip) or
-- 'parquet'; Hive-compatible partitions and per-hour partitions shape the object keys.
ALTER TABLE flow_logs ADD COLUMN file_format TEXT NOT NULL DEFAULT 'plain-text'
    CHECK (file_format IN ('plain-text', 'parquet'));
ALTER TABLE flow_logs ADD COLUMN hive_compatible_partitions INTEGER NOT NULL DEFAULT 0
    CHECK (hive_compatible_partitions IN (0, 1));
ALTER TABLE flow_logs ADD COLUMN per_hour_partition INTEGER NOT NULL DEFAULT 0
    CHECK (per_hour_partition IN (0, 1));
