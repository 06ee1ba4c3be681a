-- Issue 9 (speed): endpoints and network_interfaces keyed by their ids alone (WITHOUT ROWID).
-- A table with a TEXT PRIMARY KEY is two B-trees in SQLite: the rows by rowid, and an index
-- from the key to the rowid. Every CreateVpcEndpoint inserted into both for the endpoint and
-- for each interface, and each lookup by id (the version triggers', DescribeVpcEndpoints') went
-- through both; each B-tree is a page of every group commit's WAL (2.6 of 14.7 frames).
-- Their rows are small (ids, a state, a DNS name), as a WITHOUT ROWID table's should be.
--
-- The runner applies this one with foreign keys off: dropping `endpoints` with them on would
-- delete what refers to it (connection notifications, ON DELETE CASCADE). It checks the keys
-- before it commits.
--
-- The version triggers of 0061 that update `endpoints` go first, and come back at the end:
-- SQLite will not rename a table into place while a trigger names a table that is gone.
DROP TRIGGER endpoint_version_eni_insert;
DROP TRIGGER endpoint_version_eni_update;
DROP TRIGGER endpoint_version_eni_delete;
DROP TRIGGER endpoint_version_tag_insert;
DROP TRIGGER endpoint_version_tag_update;
DROP TRIGGER endpoint_version_tag_delete;
CREATE TABLE endpoints_by_id (
    endpoint_id    TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    vpc_id         TEXT NOT NULL REFERENCES vpcs(vpc_id),
    service_id     TEXT NOT NULL REFERENCES endpoint_services(service_id),
    endpoint_type  TEXT NOT NULL,
    state          TEXT NOT NULL,
    policy         TEXT,
    security_groups TEXT NOT NULL DEFAULT '[]',
    tags           TEXT NOT NULL DEFAULT '[]',
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    private_dns_enabled INTEGER NOT NULL DEFAULT 0,
    dns_name       TEXT,
    region         TEXT NOT NULL DEFAULT '',
    version        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO endpoints_by_id (endpoint_id, account_id, vpc_id, service_id, endpoint_type, state,
        policy, security_groups, tags, created_ms, updated_ms, private_dns_enabled, dns_name,
        region, version)
    SELECT endpoint_id, account_id, vpc_id, service_id, endpoint_type, state, policy,
        security_groups, tags, created_ms, updated_ms, private_dns_enabled, dns_name, region,
        version
    FROM endpoints;
DROP TABLE endpoints;
ALTER TABLE endpoints_by_id RENAME TO endpoints;
CREATE INDEX endpoints_service ON endpoints(service_id);
CREATE INDEX endpoints_account_id ON endpoints(account_id, endpoint_id);
CREATE TRIGGER endpoint_version_row AFTER UPDATE ON endpoints WHEN NEW.version = OLD.version
BEGIN UPDATE endpoints SET version = OLD.version + 1 WHERE endpoint_id = NEW.endpoint_id; END;

CREATE TABLE network_interfaces_by_id (
    eni_id       TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    vpc_id       TEXT NOT NULL,
    subnet_id    TEXT NOT NULL REFERENCES subnets(subnet_id),
    zone         TEXT NOT NULL,
    ip           TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('endpoint', 'load_balancer')),
    owner_id     TEXT NOT NULL,
    region       TEXT NOT NULL DEFAULT '',
    UNIQUE (subnet_id, ip)
) WITHOUT ROWID;
INSERT INTO network_interfaces_by_id (eni_id, account_id, vpc_id, subnet_id, zone, ip, kind,
        owner_id, region)
    SELECT eni_id, account_id, vpc_id, subnet_id, zone, ip, kind, owner_id, region
    FROM network_interfaces;
DROP TABLE network_interfaces;
ALTER TABLE network_interfaces_by_id RENAME TO network_interfaces;
CREATE INDEX enis_owner ON network_interfaces(owner_id);
-- The version triggers, as in 0061.
CREATE TRIGGER endpoint_version_eni_insert AFTER INSERT ON network_interfaces WHEN NEW.kind = 'endpoint'
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id = NEW.owner_id; END;
CREATE TRIGGER endpoint_version_eni_update AFTER UPDATE ON network_interfaces
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id IN (OLD.owner_id, NEW.owner_id); END;
CREATE TRIGGER endpoint_version_eni_delete AFTER DELETE ON network_interfaces WHEN OLD.kind = 'endpoint'
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id = OLD.owner_id; END;
CREATE TRIGGER endpoint_version_tag_insert AFTER INSERT ON tags WHEN NEW.resource_id LIKE 'vpce-%'
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id = NEW.resource_id; END;
CREATE TRIGGER endpoint_version_tag_update AFTER UPDATE ON tags
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id IN (OLD.resource_id, NEW.resource_id); END;
CREATE TRIGGER endpoint_version_tag_delete AFTER DELETE ON tags WHEN OLD.resource_id LIKE 'vpce-%'
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id = OLD.resource_id; END;
