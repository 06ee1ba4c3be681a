-- Issue 9 (speed): a counter every change to IAM state moves, so the server can keep the state
-- each request needs (its access key, its user, its identity policies) in memory and know, with
-- one read, whether that copy is still current. Triggers move it whatever code path writes, so a
-- forgotten call cannot leave a stale authorization behind. An access key's last-used columns
-- change on use and are not IAM state: only the columns that decide a request count there.
CREATE TABLE iam_generation (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    gen       INTEGER NOT NULL
);
INSERT INTO iam_generation (singleton, gen) VALUES (1, 0);
CREATE TRIGGER iam_gen_accounts_insert AFTER INSERT ON accounts BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_accounts_update AFTER UPDATE ON accounts BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_accounts_delete AFTER DELETE ON accounts BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_users_insert AFTER INSERT ON users BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_users_update AFTER UPDATE ON users BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_users_delete AFTER DELETE ON users BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_roles_insert AFTER INSERT ON roles BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_roles_update AFTER UPDATE ON roles BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_roles_delete AFTER DELETE ON roles BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_principal_policies_insert AFTER INSERT ON principal_policies BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_principal_policies_update AFTER UPDATE ON principal_policies BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_principal_policies_delete AFTER DELETE ON principal_policies BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_managed_policies_insert AFTER INSERT ON managed_policies BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_managed_policies_update AFTER UPDATE ON managed_policies BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_managed_policies_delete AFTER DELETE ON managed_policies BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_policy_versions_insert AFTER INSERT ON policy_versions BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_policy_versions_update AFTER UPDATE ON policy_versions BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_policy_versions_delete AFTER DELETE ON policy_versions BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_policy_attachments_insert AFTER INSERT ON policy_attachments BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_policy_attachments_update AFTER UPDATE ON policy_attachments BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_policy_attachments_delete AFTER DELETE ON policy_attachments BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_access_keys_insert AFTER INSERT ON access_keys BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_access_keys_update AFTER UPDATE OF owner_arn, status, sealed_secret ON access_keys BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
CREATE TRIGGER iam_gen_access_keys_delete AFTER DELETE ON access_keys BEGIN UPDATE iam_generation SET gen = gen + 1 WHERE singleton = 1; END;
