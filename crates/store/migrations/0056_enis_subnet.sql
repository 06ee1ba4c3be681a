-- Address allocation and AvailableIpAddressCount look up a subnet's interfaces.
CREATE INDEX enis_subnet ON network_interfaces(subnet_id);
