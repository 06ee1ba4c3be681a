-- Issue 9 (speed): DescribeVpcEndpoints' page of ids and versions read from an index alone.
-- The page query (services::page_endpoint_versions) filters on the account and the region and
-- reads each endpoint's version. With the index of 0053 (account, id) it found the ids there,
-- then looked each one up in the table for its region and version: 101 descents of the
-- endpoints B-tree (text keys compared at every level) for a page of 100. This index holds all
-- four, in the order the pages are read, so a page is one range of one index. Its entry changes
-- when the version does (any change to an endpoint), which is one index update per write that
-- already rewrites the row.
DROP INDEX endpoints_account_id;
CREATE INDEX endpoints_listing ON endpoints(account_id, region, endpoint_id, version);
