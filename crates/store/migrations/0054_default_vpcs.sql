-- Issue 9: default VPCs. An account has at most one (EC2's per-region default VPC; a server
-- serves one region), with one default subnet per zone.
ALTER TABLE vpcs ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1));
CREATE UNIQUE INDEX vpcs_one_default ON vpcs(account_id) WHERE is_default = 1;
ALTER TABLE subnets ADD COLUMN default_for_az INTEGER NOT NULL DEFAULT 0 CHECK (default_for_az IN (0, 1));
-- An account created outside an API action (the administrator's, at first start) is owed its
-- default VPC: made, and the flag cleared, in one transaction once the server can.
ALTER TABLE accounts ADD COLUMN default_vpc_owed INTEGER NOT NULL DEFAULT 0 CHECK (default_vpc_owed IN (0, 1));
