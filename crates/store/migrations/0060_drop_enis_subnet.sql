-- enis_subnet (0056) repeats the leading column of UNIQUE (subnet_id, ip), which already serves
-- every lookup of a subnet's interfaces (address allocation, AvailableIpAddressCount) and the
-- foreign key's checks; each interface insert paid for a page of it in the WAL.
DROP INDEX IF EXISTS enis_subnet;
