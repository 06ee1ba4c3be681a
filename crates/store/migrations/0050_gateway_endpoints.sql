-- Gateway endpoints (issue 9): a VPC's route to a regional AWS-style service (S3, DynamoDB)
-- through the service's prefix list, placed in the route tables the endpoint names. They carry
-- no connection state and own no ENI, so they live beside the interface endpoints, not in
-- `endpoints` (whose rows belong to endpoint services).
CREATE TABLE gateway_endpoints (
    endpoint_id   TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(account_id),
    vpc_id        TEXT NOT NULL REFERENCES vpcs(vpc_id),
    service_name  TEXT NOT NULL,
    policy        TEXT,
    created_ms    INTEGER NOT NULL
);
CREATE INDEX gateway_endpoints_vpc ON gateway_endpoints(vpc_id);

-- The route tables holding a gateway endpoint's route (destination: its service's prefix list).
CREATE TABLE gateway_endpoint_routes (
    endpoint_id     TEXT NOT NULL REFERENCES gateway_endpoints(endpoint_id) ON DELETE CASCADE,
    route_table_id  TEXT NOT NULL REFERENCES route_tables(route_table_id) ON DELETE CASCADE,
    PRIMARY KEY (endpoint_id, route_table_id)
);
CREATE INDEX gateway_endpoint_routes_rt ON gateway_endpoint_routes(route_table_id);
