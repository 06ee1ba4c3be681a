-- Route tables, network ACLs and tags (issue 9).
--
-- Every VPC has a main route table (with the `local` route for its block) and a default network
-- ACL (rule 100 allows everything, both ways); every subnet is associated with exactly one ACL,
-- the default one until ReplaceNetworkAclAssociation moves it. Subnets without an explicit
-- route-table association use the main table. The `*` rule (deny everything) of every ACL is
-- implicit: it is not stored. VPCs and subnets made before this migration get the same defaults.

CREATE TABLE route_tables (
    route_table_id  TEXT PRIMARY KEY,
    vpc_id          TEXT NOT NULL REFERENCES vpcs(vpc_id),
    account_id      TEXT NOT NULL,
    main            INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX route_tables_vpc ON route_tables(vpc_id);

-- target_kind: 'local' (target_id 'local') or 'eni' (target_id eni-…).
CREATE TABLE routes (
    route_table_id  TEXT NOT NULL REFERENCES route_tables(route_table_id) ON DELETE CASCADE,
    destination     TEXT NOT NULL,
    target_kind     TEXT NOT NULL CHECK (target_kind IN ('local', 'eni')),
    target_id       TEXT NOT NULL,
    origin          TEXT NOT NULL CHECK (origin IN ('CreateRouteTable', 'CreateRoute')),
    PRIMARY KEY (route_table_id, destination)
);

-- The main association has no subnet; a subnet has at most one explicit association.
CREATE TABLE route_table_associations (
    association_id  TEXT PRIMARY KEY,
    route_table_id  TEXT NOT NULL REFERENCES route_tables(route_table_id) ON DELETE CASCADE,
    subnet_id       TEXT UNIQUE REFERENCES subnets(subnet_id) ON DELETE CASCADE,
    main            INTEGER NOT NULL DEFAULT 0,
    CHECK ((main = 1) = (subnet_id IS NULL))
);

CREATE TABLE network_acls (
    network_acl_id  TEXT PRIMARY KEY,
    vpc_id          TEXT NOT NULL REFERENCES vpcs(vpc_id),
    account_id      TEXT NOT NULL,
    is_default      INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX network_acls_vpc ON network_acls(vpc_id);

-- protocol: tcp, udp, icmp or -1; ports only for tcp/udp; icmp type/code only for icmp.
CREATE TABLE network_acl_entries (
    network_acl_id  TEXT NOT NULL REFERENCES network_acls(network_acl_id) ON DELETE CASCADE,
    rule_number     INTEGER NOT NULL CHECK (rule_number BETWEEN 1 AND 32766),
    egress          INTEGER NOT NULL,
    protocol        TEXT NOT NULL,
    rule_action     TEXT NOT NULL CHECK (rule_action IN ('allow', 'deny')),
    cidr            TEXT NOT NULL,
    from_port       INTEGER,
    to_port         INTEGER,
    icmp_type       INTEGER,
    icmp_code       INTEGER,
    PRIMARY KEY (network_acl_id, egress, rule_number)
);

CREATE TABLE network_acl_associations (
    association_id  TEXT PRIMARY KEY,
    network_acl_id  TEXT NOT NULL REFERENCES network_acls(network_acl_id),
    subnet_id       TEXT NOT NULL UNIQUE REFERENCES subnets(subnet_id) ON DELETE CASCADE
);
CREATE INDEX network_acl_associations_acl ON network_acl_associations(network_acl_id);

-- Tags of EC2 resources (by id), ELBv2 resources and IAM policies (by ARN).
CREATE TABLE tags (
    resource_id    TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    key            TEXT NOT NULL,
    value          TEXT NOT NULL,
    PRIMARY KEY (resource_id, key)
);
CREATE INDEX tags_account ON tags(account_id);

-- The defaults of the VPCs and subnets that already exist (ids: 17 random hex digits).
INSERT INTO route_tables (route_table_id, vpc_id, account_id, main, created_ms)
    SELECT 'rtb-' || substr(lower(hex(randomblob(9))), 1, 17), vpc_id, account_id, 1, created_ms
    FROM vpcs;
INSERT INTO routes (route_table_id, destination, target_kind, target_id, origin)
    SELECT r.route_table_id, v.cidr, 'local', 'local', 'CreateRouteTable'
    FROM route_tables r JOIN vpcs v ON v.vpc_id = r.vpc_id;
INSERT INTO route_table_associations (association_id, route_table_id, subnet_id, main)
    SELECT 'rtbassoc-' || substr(lower(hex(randomblob(9))), 1, 17), route_table_id, NULL, 1
    FROM route_tables;
INSERT INTO network_acls (network_acl_id, vpc_id, account_id, is_default, created_ms)
    SELECT 'acl-' || substr(lower(hex(randomblob(9))), 1, 17), vpc_id, account_id, 1, created_ms
    FROM vpcs;
INSERT INTO network_acl_entries (network_acl_id, rule_number, egress, protocol, rule_action, cidr)
    SELECT network_acl_id, 100, e.egress, '-1', 'allow', '0.0.0.0/0'
    FROM network_acls, (SELECT 0 AS egress UNION ALL SELECT 1) e;
INSERT INTO network_acl_associations (association_id, network_acl_id, subnet_id)
    SELECT 'aclassoc-' || substr(lower(hex(randomblob(9))), 1, 17), a.network_acl_id, s.subnet_id
    FROM subnets s JOIN network_acls a ON a.vpc_id = s.vpc_id AND a.is_default = 1;
