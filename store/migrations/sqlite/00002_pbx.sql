-- +goose Up
-- PBX configuration (issue 3). Edits are staged: every change increments
-- pbx_state.config_version, and 更新配置 compiles these tables into one routing
-- snapshot and records the version it applied.

-- extensions.password is the SIP digest password, kept in clear on purpose:
-- digest authentication (RFC 3261 §22.4, RFC 8760) needs the password, or a
-- hash of it bound to the realm and to each algorithm (MD5, SHA-256), to check
-- a phone's response, and administrators must be able to reveal and export it
-- to set up phones (issue 3). Reads mask it unless the actor holds
-- pbx.extensions.passwords. Numbers are unique across the system: every phone
-- of every company registers on the same SIP port.
CREATE TABLE extensions (
    id                   INTEGER PRIMARY KEY,
    tenant_id            BIGINT NOT NULL REFERENCES tenants(id),
    number               TEXT NOT NULL,
    name                 TEXT NOT NULL DEFAULT '',
    password             TEXT NOT NULL,
    caller_id            TEXT NOT NULL DEFAULT '',
    grp                  INTEGER NOT NULL DEFAULT 1,
    max_outbound_minutes INTEGER NOT NULL DEFAULT 0,
    permission_group     TEXT NOT NULL DEFAULT 'default',
    recording            INTEGER NOT NULL DEFAULT 1,
    bound_ip             TEXT NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX extensions_number ON extensions (number);
CREATE INDEX extensions_tenant_group ON extensions (tenant_id, permission_group);

-- trunks.password is the provider account's password, in clear because we
-- answer the provider's digest challenges with it. reg_* is the live
-- registration status written by the SIP edge; it is not configuration and
-- does not change version.
CREATE TABLE trunks (
    id                INTEGER PRIMARY KEY,
    tenant_id         BIGINT NOT NULL REFERENCES tenants(id),
    name              TEXT NOT NULL,
    trunk_type        TEXT NOT NULL,
    host              TEXT NOT NULL,
    port              INTEGER NOT NULL DEFAULT 5060,
    username          TEXT NOT NULL DEFAULT '',
    password          TEXT NOT NULL DEFAULT '',
    caller_id         TEXT NOT NULL DEFAULT '',
    max_channels      INTEGER NOT NULL DEFAULT 100,
    dtmf_mode         TEXT NOT NULL DEFAULT 'rfc2833',
    codecs            TEXT NOT NULL DEFAULT 'alaw&ulaw',
    register_interval INTEGER NOT NULL DEFAULT 0,
    reg_state         TEXT NOT NULL DEFAULT '',
    reg_reason        TEXT NOT NULL DEFAULT '',
    reg_at            BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX trunks_tenant_name ON trunks (tenant_id, name);

-- patterns, caller_match (extension numbers) and trunks (at most 3 IDs, in
-- the order tried) are JSON lists.
CREATE TABLE outbound_routes (
    id           INTEGER PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id),
    name         TEXT NOT NULL,
    patterns     TEXT NOT NULL DEFAULT '[]',
    strip_prefix TEXT NOT NULL DEFAULT '',
    prepend      TEXT NOT NULL DEFAULT '',
    caller_match TEXT NOT NULL DEFAULT '[]',
    trunks       TEXT NOT NULL DEFAULT '[]',
    priority     INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX outbound_routes_tenant_name ON outbound_routes (tenant_id, name);
CREATE INDEX outbound_routes_tenant_priority ON outbound_routes (tenant_id, priority);

CREATE TABLE inbound_routes (
    id               INTEGER PRIMARY KEY,
    tenant_id        BIGINT NOT NULL REFERENCES tenants(id),
    name             TEXT NOT NULL,
    did              TEXT NOT NULL DEFAULT '',
    caller           TEXT NOT NULL DEFAULT '',
    destination_type TEXT NOT NULL,
    destination      TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX inbound_routes_tenant_name ON inbound_routes (tenant_id, name);
CREATE UNIQUE INDEX inbound_routes_tenant_match ON inbound_routes (tenant_id, did, caller);

-- rules is a JSON list of {prefix, action, call_type, notes}. Every company
-- has the group "default"; it goes with the company.
CREATE TABLE permission_groups (
    id         INTEGER PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    notes      TEXT NOT NULL DEFAULT '',
    rules      TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX permission_groups_tenant_name ON permission_groups (tenant_id, name);
INSERT INTO permission_groups (tenant_id, name, notes, rules, created_at)
    SELECT id, 'default', '', '[]', created_at FROM tenants;

CREATE TABLE speed_dials (
    id         INTEGER PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    code       TEXT NOT NULL,
    number     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX speed_dials_tenant_code ON speed_dials (tenant_id, code);

-- Registrations of phones, kept so that they survive a restart of the
-- binary. One row per binding (RFC 3261 §10.3): an extension may have several
-- contacts, and all of them ring.
CREATE TABLE sip_registrations (
    id         INTEGER PRIMARY KEY,
    extension  TEXT NOT NULL,
    contact    TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT '',
    transport  TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL,
    instance   TEXT NOT NULL DEFAULT '',
    reg_id     INTEGER NOT NULL DEFAULT 0,
    gruu       TEXT NOT NULL DEFAULT '',
    call_id    TEXT NOT NULL DEFAULT '',
    cseq       BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sip_registrations_binding ON sip_registrations (extension, contact);
CREATE INDEX sip_registrations_expires ON sip_registrations (expires_at);

-- One row: config_version counts PBX changes; applied_version is the one the
-- running routing snapshot was built from. They differ while changes are
-- pending (有未应用的修改). applied_config is that configuration as JSON
-- (routing.Config), so that a restart of the binary serves exactly what was
-- last applied, not the pending edits; '' until the first apply.
CREATE TABLE pbx_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    config_version  BIGINT NOT NULL DEFAULT 0,
    applied_version BIGINT NOT NULL DEFAULT 0,
    applied_at      BIGINT NOT NULL DEFAULT 0,
    applied_by      TEXT NOT NULL DEFAULT '',
    applied_config  TEXT NOT NULL DEFAULT ''
);
INSERT INTO pbx_state (id) VALUES (1);

-- +goose Down
DROP TABLE pbx_state;
DROP TABLE sip_registrations;
DROP TABLE speed_dials;
DROP TABLE permission_groups;
DROP TABLE inbound_routes;
DROP TABLE outbound_routes;
DROP TABLE trunks;
DROP TABLE extensions;
