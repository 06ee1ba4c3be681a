-- Issue 9: outbound security-group rules, subnet attributes, and VPCs' secondary CIDR blocks.

-- Outbound rules share the rules table; every existing rule is inbound.
ALTER TABLE security_group_rules ADD COLUMN egress INTEGER NOT NULL DEFAULT 0 CHECK (egress IN (0, 1));

-- ModifySubnetAttribute's flags (stored and shown: Underpass launches no instances).
ALTER TABLE subnets ADD COLUMN map_public_ip_on_launch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subnets ADD COLUMN assign_ipv6_on_creation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subnets ADD COLUMN enable_dns64 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subnets ADD COLUMN private_dns_hostname_type TEXT NOT NULL DEFAULT 'ip-name'
    CHECK (private_dns_hostname_type IN ('ip-name', 'resource-name'));
ALTER TABLE subnets ADD COLUMN resource_name_dns_a INTEGER NOT NULL DEFAULT 0;

-- Secondary IPv4 blocks of a VPC (the primary block stays in vpcs.cidr).
CREATE TABLE vpc_cidr_blocks (
    association_id  TEXT PRIMARY KEY,
    vpc_id          TEXT NOT NULL REFERENCES vpcs(vpc_id) ON DELETE CASCADE,
    cidr            TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    UNIQUE (vpc_id, cidr)
);
