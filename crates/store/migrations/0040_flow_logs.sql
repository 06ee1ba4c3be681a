-- Flow logs (issue 5): one row per flow log on a VPC, a subnet or a network interface. The
-- agents that own ENIs under the resource receive it in their desired state and write the
-- records. LogDestination is a directory under the flow-log root (type 'file') or an S3 bucket
-- ARN (type 's3'); both were validated by the API (no '..', no absolute path, no NUL).
CREATE TABLE flow_logs (
    flow_log_id               TEXT PRIMARY KEY,
    account_id                TEXT NOT NULL REFERENCES accounts(account_id),
    resource_id               TEXT NOT NULL,
    resource_type             TEXT NOT NULL CHECK (resource_type IN ('VPC', 'Subnet', 'NetworkInterface')),
    traffic_type              TEXT NOT NULL CHECK (traffic_type IN ('ACCEPT', 'REJECT', 'ALL')),
    max_aggregation_interval  INTEGER NOT NULL CHECK (max_aggregation_interval IN (60, 600)),
    log_format                TEXT NOT NULL,
    destination_type          TEXT NOT NULL CHECK (destination_type IN ('file', 's3')),
    log_destination           TEXT NOT NULL,
    created_ms                INTEGER NOT NULL
);
CREATE INDEX flow_logs_resource ON flow_logs(resource_id);
CREATE INDEX flow_logs_account ON flow_logs(account_id);
