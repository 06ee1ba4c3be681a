-- Underpass control-plane schema, version 1.
-- Times are Unix milliseconds (INTEGER); ids are AWS-shaped TEXT; JSON where a list is opaque.

CREATE TABLE install (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    install_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

-- A monotonically increasing revision, bumped by every change agents must see.
CREATE TABLE revision (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    value     INTEGER NOT NULL
);
INSERT INTO revision (singleton, value) VALUES (1, 1);

CREATE TABLE accounts (
    account_id  TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE users (
    arn         TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(account_id),
    name        TEXT NOT NULL,
    path        TEXT NOT NULL DEFAULT '/',
    user_id     TEXT NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE roles (
    arn               TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(account_id),
    name              TEXT NOT NULL,
    path              TEXT NOT NULL DEFAULT '/',
    role_id           TEXT NOT NULL UNIQUE,
    trust_policy      TEXT NOT NULL,
    max_session_secs  INTEGER NOT NULL DEFAULT 3600,
    created_ms        INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

-- Inline identity policies of users and roles.
CREATE TABLE principal_policies (
    principal_arn TEXT NOT NULL,
    name          TEXT NOT NULL,
    document      TEXT NOT NULL,
    PRIMARY KEY (principal_arn, name)
);

CREATE TABLE access_keys (
    access_key_id      TEXT PRIMARY KEY,
    owner_arn          TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    created_ms         INTEGER NOT NULL,
    last_used_ms       INTEGER,
    last_used_service  TEXT,
    last_used_region   TEXT,
    sealed_secret      TEXT NOT NULL
);
CREATE INDEX access_keys_owner ON access_keys(owner_arn);

-- ClientToken idempotency: one row per (account, action, token).
CREATE TABLE client_tokens (
    account_id   TEXT NOT NULL,
    action       TEXT NOT NULL,
    token        TEXT NOT NULL,
    params_hash  TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (account_id, action, token)
);

CREATE TABLE vpcs (
    vpc_id                TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL REFERENCES accounts(account_id),
    cidr                  TEXT NOT NULL,
    enable_dns_support    INTEGER NOT NULL DEFAULT 1,
    enable_dns_hostnames  INTEGER NOT NULL DEFAULT 1,
    tags                  TEXT NOT NULL DEFAULT '[]',
    created_ms            INTEGER NOT NULL
);

CREATE TABLE subnets (
    subnet_id   TEXT PRIMARY KEY,
    vpc_id      TEXT NOT NULL REFERENCES vpcs(vpc_id),
    account_id  TEXT NOT NULL,
    zone        TEXT NOT NULL,
    cidr        TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    created_ms  INTEGER NOT NULL
);
CREATE INDEX subnets_vpc ON subnets(vpc_id);

CREATE TABLE security_groups (
    group_id     TEXT PRIMARY KEY,
    vpc_id       TEXT NOT NULL REFERENCES vpcs(vpc_id),
    account_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    UNIQUE (vpc_id, name)
);

CREATE TABLE security_group_rules (
    rule_id       TEXT PRIMARY KEY,
    group_id      TEXT NOT NULL REFERENCES security_groups(group_id) ON DELETE CASCADE,
    protocol      TEXT NOT NULL,
    from_port     INTEGER NOT NULL,
    to_port       INTEGER NOT NULL,
    cidr          TEXT,
    source_group  TEXT,
    description   TEXT NOT NULL DEFAULT '',
    CHECK ((cidr IS NULL) <> (source_group IS NULL))
);
CREATE INDEX sg_rules_group ON security_group_rules(group_id);

-- Network addresses bound by agents: endpoint ENIs and load-balancer nodes.
CREATE TABLE network_interfaces (
    eni_id       TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    vpc_id       TEXT NOT NULL,
    subnet_id    TEXT NOT NULL REFERENCES subnets(subnet_id),
    zone         TEXT NOT NULL,
    ip           TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('endpoint', 'load_balancer')),
    owner_id     TEXT NOT NULL,
    UNIQUE (subnet_id, ip)
);
CREATE INDEX enis_owner ON network_interfaces(owner_id);

CREATE TABLE load_balancers (
    arn          TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    vpc_id       TEXT NOT NULL REFERENCES vpcs(vpc_id),
    cross_zone   INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE target_groups (
    arn                   TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL,
    name                  TEXT NOT NULL,
    vpc_id                TEXT NOT NULL REFERENCES vpcs(vpc_id),
    protocol              TEXT NOT NULL,
    port                  INTEGER NOT NULL,
    hc_protocol           TEXT NOT NULL,
    hc_port               TEXT NOT NULL,
    hc_path               TEXT NOT NULL,
    hc_interval_secs      INTEGER NOT NULL,
    hc_timeout_secs       INTEGER NOT NULL,
    healthy_threshold     INTEGER NOT NULL,
    unhealthy_threshold   INTEGER NOT NULL,
    proxy_protocol_v2     INTEGER NOT NULL DEFAULT 0,
    created_ms            INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE targets (
    target_group_arn  TEXT NOT NULL REFERENCES target_groups(arn) ON DELETE CASCADE,
    ip                TEXT NOT NULL,
    port              INTEGER NOT NULL,
    zone              TEXT,
    PRIMARY KEY (target_group_arn, ip, port)
);

CREATE TABLE listeners (
    arn               TEXT PRIMARY KEY,
    load_balancer_arn TEXT NOT NULL REFERENCES load_balancers(arn) ON DELETE CASCADE,
    protocol          TEXT NOT NULL,
    port              INTEGER NOT NULL,
    target_group_arn  TEXT NOT NULL REFERENCES target_groups(arn),
    UNIQUE (load_balancer_arn, port)
);

-- Health as seen by the agents that run the gateway nodes.
CREATE TABLE target_health (
    target_group_arn TEXT NOT NULL,
    ip               TEXT NOT NULL,
    port             INTEGER NOT NULL,
    agent_id         TEXT NOT NULL,
    state            TEXT NOT NULL,
    reason           TEXT,
    updated_ms       INTEGER NOT NULL,
    PRIMARY KEY (target_group_arn, ip, port, agent_id)
);

CREATE TABLE endpoint_services (
    service_id           TEXT PRIMARY KEY,
    service_name         TEXT NOT NULL UNIQUE,
    account_id           TEXT NOT NULL,
    acceptance_required  INTEGER NOT NULL,
    load_balancer_arns   TEXT NOT NULL,
    state                TEXT NOT NULL,
    created_ms           INTEGER NOT NULL
);

CREATE TABLE service_permissions (
    service_id     TEXT NOT NULL REFERENCES endpoint_services(service_id) ON DELETE CASCADE,
    principal      TEXT NOT NULL,
    PRIMARY KEY (service_id, principal)
);

CREATE TABLE endpoints (
    endpoint_id    TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    vpc_id         TEXT NOT NULL REFERENCES vpcs(vpc_id),
    service_id     TEXT NOT NULL REFERENCES endpoint_services(service_id),
    endpoint_type  TEXT NOT NULL,
    state          TEXT NOT NULL,
    policy         TEXT,
    security_groups TEXT NOT NULL DEFAULT '[]',
    tags           TEXT NOT NULL DEFAULT '[]',
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL
);
CREATE INDEX endpoints_service ON endpoints(service_id);

-- Every state change of every endpoint connection, in order: the history a checker replays.
CREATE TABLE connection_history (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id  TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT NOT NULL,
    event        TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at_ms        INTEGER NOT NULL
);

CREATE TABLE join_tokens (
    token_id    TEXT PRIMARY KEY,
    hash        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    vpc_id      TEXT NOT NULL,
    zone        TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL,
    used_ms     INTEGER
);

CREATE TABLE agents (
    agent_id     TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    vpc_id       TEXT NOT NULL,
    zone         TEXT NOT NULL,
    public_key   BLOB NOT NULL,
    cert_serial  TEXT NOT NULL,
    enrolled_ms  INTEGER NOT NULL,
    last_seen_ms INTEGER
);

CREATE TABLE revoked_certs (
    serial      TEXT PRIMARY KEY,
    revoked_ms  INTEGER NOT NULL,
    reason      TEXT NOT NULL
);

-- The audit log: one line per authenticated (or refused) API call.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms        INTEGER NOT NULL,
    request_id   TEXT NOT NULL,
    principal    TEXT,
    action       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    error_code   TEXT
);
