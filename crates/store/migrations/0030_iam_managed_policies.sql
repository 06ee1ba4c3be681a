-- IAM managed policies (issue 9): customer managed policies with up to five versions, one of
-- them the default, attached to users and roles; and the role description CreateRole takes.
CREATE TABLE managed_policies (
    arn              TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(account_id),
    name             TEXT NOT NULL,
    path             TEXT NOT NULL DEFAULT '/',
    policy_id        TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL DEFAULT '',
    default_version  TEXT NOT NULL,
    -- The number of the next version (v1, v2, …): version ids are never reused.
    next_version     INTEGER NOT NULL,
    created_ms       INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE policy_versions (
    policy_arn  TEXT NOT NULL REFERENCES managed_policies(arn) ON DELETE CASCADE,
    version_id  TEXT NOT NULL,
    document    TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (policy_arn, version_id)
);

-- Which users and roles a managed policy is attached to (by their ARN).
CREATE TABLE policy_attachments (
    policy_arn     TEXT NOT NULL REFERENCES managed_policies(arn),
    principal_arn  TEXT NOT NULL,
    PRIMARY KEY (policy_arn, principal_arn)
);
CREATE INDEX policy_attachments_principal ON policy_attachments(principal_arn);

ALTER TABLE roles ADD COLUMN description TEXT;
