-- Issue 9 (speed): a counter per interface endpoint that every change to what DescribeVpcEndpoints
-- shows of it moves: its row, its interfaces, its tags. The server keeps each endpoint's answer
-- item in memory with the version it was read at, so a page of endpoints that did not change
-- costs one read of their ids and versions instead of their rows, interfaces and tags. Triggers
-- move it whatever code path writes, so a forgotten call cannot leave a stale answer behind.
ALTER TABLE endpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
-- An update that does not itself move the version moves it (the trigger's own update sets it,
-- so it does not fire again; SQLite's recursive triggers are off in any case).
CREATE TRIGGER endpoint_version_row AFTER UPDATE ON endpoints WHEN NEW.version = OLD.version
BEGIN UPDATE endpoints SET version = OLD.version + 1 WHERE rowid = NEW.rowid; END;
CREATE TRIGGER endpoint_version_eni_insert AFTER INSERT ON network_interfaces WHEN NEW.kind = 'endpoint'
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id = NEW.owner_id; END;
CREATE TRIGGER endpoint_version_eni_update AFTER UPDATE ON network_interfaces
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id IN (OLD.owner_id, NEW.owner_id); END;
CREATE TRIGGER endpoint_version_eni_delete AFTER DELETE ON network_interfaces WHEN OLD.kind = 'endpoint'
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id = OLD.owner_id; END;
-- Tags of other resources (services' `vpce-svc-` ids among them) match no endpoint: a probe of
-- the endpoint id's index and nothing more.
CREATE TRIGGER endpoint_version_tag_insert AFTER INSERT ON tags WHEN NEW.resource_id LIKE 'vpce-%'
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id = NEW.resource_id; END;
CREATE TRIGGER endpoint_version_tag_update AFTER UPDATE ON tags
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id IN (OLD.resource_id, NEW.resource_id); END;
CREATE TRIGGER endpoint_version_tag_delete AFTER DELETE ON tags WHEN OLD.resource_id LIKE 'vpce-%'
BEGIN UPDATE endpoints SET version = version + 1 WHERE endpoint_id = OLD.resource_id; END;
