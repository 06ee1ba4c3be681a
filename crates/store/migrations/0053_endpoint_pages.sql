-- DescribeVpcEndpoints pages through an account's endpoints in id order (keyset paging):
-- these make each page a range scan instead of a sort of the whole table.
CREATE INDEX endpoints_account_id ON endpoints(account_id, endpoint_id);
CREATE INDEX gateway_endpoints_account_id ON gateway_endpoints(account_id, endpoint_id);
