-- DNS (issue 4). Endpoint services get a private DNS name with its TXT verification record and
-- state (pendingVerification, verified, failed); endpoints get the private-DNS switch and their
-- regional DNS name, whose random part is fixed when the endpoint is created.
ALTER TABLE endpoint_services ADD COLUMN private_dns_name TEXT;
ALTER TABLE endpoint_services ADD COLUMN private_dns_state TEXT
    CHECK (private_dns_state IN ('pendingVerification', 'verified', 'failed'));
ALTER TABLE endpoint_services ADD COLUMN private_dns_txt_name TEXT;
ALTER TABLE endpoint_services ADD COLUMN private_dns_txt_value TEXT;
CREATE INDEX endpoint_services_private_dns ON endpoint_services(private_dns_name);

ALTER TABLE endpoints ADD COLUMN private_dns_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN dns_name TEXT;
