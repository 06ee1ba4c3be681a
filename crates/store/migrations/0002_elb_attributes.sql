-- ELBv2 attributes the API exposes beyond schema version 1.
-- deletion_protection.enabled (load balancers) and deregistration_delay.timeout_seconds
-- (target groups, ELBv2's default 300 s).
ALTER TABLE load_balancers ADD COLUMN deletion_protection INTEGER NOT NULL DEFAULT 0;
ALTER TABLE target_groups ADD COLUMN deregistration_delay_secs INTEGER NOT NULL DEFAULT 300;
