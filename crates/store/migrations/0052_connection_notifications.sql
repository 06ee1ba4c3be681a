-- Endpoint connection notifications (issue 9): an SNS topic ARN told about connection events
-- (Connect, Accept, Reject, Delete) of one endpoint service or one endpoint. They go with it.
CREATE TABLE connection_notifications (
    notification_id  TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    service_id       TEXT REFERENCES endpoint_services(service_id) ON DELETE CASCADE,
    endpoint_id      TEXT REFERENCES endpoints(endpoint_id) ON DELETE CASCADE,
    topic_arn        TEXT NOT NULL,
    events           TEXT NOT NULL,
    created_ms       INTEGER NOT NULL,
    CHECK ((service_id IS NULL) <> (endpoint_id IS NULL))
);
CREATE INDEX connection_notifications_service ON connection_notifications(service_id);
CREATE INDEX connection_notifications_endpoint ON connection_notifications(endpoint_id);
