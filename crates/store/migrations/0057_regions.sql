-- Issue 9: several regions in one server. Every regional resource carries its region. Rows made
-- before this migration get '' here; the server fills in its primary region at start
-- (`regions::adopt`), since only it knows which region that is.
ALTER TABLE vpcs ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE subnets ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE security_groups ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE route_tables ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE network_acls ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE network_interfaces ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE load_balancers ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE target_groups ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoint_services ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE gateway_endpoints ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE connection_notifications ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE flow_logs ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE tags ADD COLUMN region TEXT NOT NULL DEFAULT '';
-- A default VPC per account and region, as in EC2.
DROP INDEX vpcs_one_default;
CREATE UNIQUE INDEX vpcs_one_default ON vpcs(account_id, region) WHERE is_default = 1;
-- The regions an account has been opened in: its default VPC there was made (or, under
-- --no-default-vpc, deliberately not). A region added to the configuration later opens at the
-- next start for every account; a default VPC deleted by its owner is not made again.
CREATE TABLE account_regions (
    account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    region TEXT NOT NULL,
    PRIMARY KEY (account_id, region)
) WITHOUT ROWID;
-- Accounts before this migration are settled in the primary region, but for one still owed its
-- default VPC (made at the next start).
INSERT INTO account_regions (account_id, region)
    SELECT account_id, '' FROM accounts WHERE default_vpc_owed = 0;
