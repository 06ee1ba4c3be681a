-- How each agent's last delivery of each flow log went (its health reports), for
-- DescribeFlowLogs' DeliverLogsStatus. One row per (agent, flow log), replaced by each report.
CREATE TABLE flow_log_delivery (
    agent_id     TEXT NOT NULL,
    flow_log_id  TEXT NOT NULL,
    error        TEXT,
    at_ms        INTEGER NOT NULL,
    PRIMARY KEY (agent_id, flow_log_id)
);
CREATE INDEX flow_log_delivery_flow_log ON flow_log_delivery(flow_log_id);
