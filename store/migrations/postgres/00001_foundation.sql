-- +goose Up
CREATE TABLE tenants (
    id               BIGSERIAL PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL UNIQUE,
    logo             TEXT NOT NULL DEFAULT '',
    quota_users      INTEGER NOT NULL DEFAULT 0,
    quota_extensions INTEGER NOT NULL DEFAULT 0,
    quota_trunks     INTEGER NOT NULL DEFAULT 0,
    quota_calls      INTEGER NOT NULL DEFAULT 0,
    local_area_code  TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE departments (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    parent_id  BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX departments_tenant_name ON departments (tenant_id, name);

CREATE TABLE roles (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id),
    role_key    TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL DEFAULT '[]',
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX roles_tenant_name ON roles (tenant_id, name);

CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id),
    username        TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    password_hash   TEXT NOT NULL DEFAULT '',
    mobile          TEXT NOT NULL DEFAULT '',
    role_id         BIGINT NOT NULL REFERENCES roles(id),
    department_id   BIGINT NOT NULL DEFAULT 0,
    extension       TEXT NOT NULL DEFAULT '',
    masking         INTEGER NOT NULL DEFAULT 1,
    email           TEXT NOT NULL DEFAULT '',
    gender          TEXT NOT NULL DEFAULT 'male',
    avatar          TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    screen_pop      INTEGER NOT NULL DEFAULT 1,
    screen_pop_busy INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'enabled',
    system_admin    INTEGER NOT NULL DEFAULT 0,
    must_change_pw  INTEGER NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_username ON users (username);
CREATE UNIQUE INDEX users_extension ON users (extension) WHERE extension <> '';
CREATE INDEX users_tenant_department ON users (tenant_id, department_id);

CREATE TABLE department_leaders (
    department_id BIGINT NOT NULL REFERENCES departments(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (department_id, user_id)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    source_ip  TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL DEFAULT '',
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL DEFAULT 0,
    last_used  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL DEFAULT 0,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL,
    object    TEXT NOT NULL DEFAULT '',
    object_id BIGINT NOT NULL DEFAULT 0,
    detail    TEXT NOT NULL DEFAULT '',
    source_ip TEXT NOT NULL DEFAULT ''
);
-- Every index leads with the company: a company's list probes its own part,
-- and the system administrator's filtered list probes each company's part in
-- turn (store/audit.go). docs/benchmarks.md has the measurements.
CREATE INDEX audit_tenant_id ON audit_log (tenant_id, id);
CREATE INDEX audit_tenant_time ON audit_log (tenant_id, at);
CREATE INDEX audit_tenant_action ON audit_log (tenant_id, action, at);
CREATE INDEX audit_tenant_actor ON audit_log (tenant_id, actor);
CREATE INDEX audit_tenant_ip ON audit_log (tenant_id, source_ip);
-- 快速搜索 is lower(column) LIKE 'prefix%': text_pattern_ops makes it a range
-- scan whatever the database's collation.
CREATE INDEX audit_tenant_actor_search ON audit_log (tenant_id, lower(actor) text_pattern_ops);
CREATE INDEX audit_tenant_ip_search ON audit_log (tenant_id, lower(source_ip) text_pattern_ops);

-- audit_counts holds each company's number of audit entries, kept in the
-- transaction that writes the entry: the unfiltered list's "共 N 记录" reads
-- it instead of counting a million rows.
CREATE TABLE audit_counts (
    tenant_id BIGINT PRIMARY KEY,
    entries   BIGINT NOT NULL
);

CREATE TABLE settings (
    tenant_id             BIGINT PRIMARY KEY REFERENCES tenants(id),
    inbound_owner_routing INTEGER NOT NULL DEFAULT 0,
    keep_recordings       INTEGER NOT NULL DEFAULT 6,
    keep_marked_numbers   INTEGER NOT NULL DEFAULT 12,
    keep_missed_calls     INTEGER NOT NULL DEFAULT 12,
    keep_busy_log         INTEGER NOT NULL DEFAULT 12,
    keep_quality_records  INTEGER NOT NULL DEFAULT 12,
    keep_customer_changes INTEGER NOT NULL DEFAULT 12,
    version               INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE list_columns (
    user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    list_name TEXT NOT NULL,
    cols      TEXT NOT NULL,
    PRIMARY KEY (user_id, list_name)
);

-- +goose Down
DROP TABLE list_columns;
DROP TABLE settings;
DROP TABLE audit_counts;
DROP TABLE audit_log;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE department_leaders;
DROP TABLE users;
DROP TABLE roles;
DROP TABLE departments;
DROP TABLE tenants;
