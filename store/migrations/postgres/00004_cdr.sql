-- +goose Up
CREATE TABLE call_records (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    call_id         TEXT NOT NULL DEFAULT '',
    start_time      BIGINT NOT NULL,
    answer_time     BIGINT NOT NULL DEFAULT 0,
    end_time        BIGINT NOT NULL DEFAULT 0,
    ring_seconds    INTEGER NOT NULL DEFAULT 0,
    talk_seconds    INTEGER NOT NULL DEFAULT 0,
    caller          TEXT NOT NULL DEFAULT '',
    callee          TEXT NOT NULL DEFAULT '',
    direction       TEXT NOT NULL DEFAULT '',
    disposition     TEXT NOT NULL DEFAULT '',
    extension       TEXT NOT NULL DEFAULT '',
    trunk           TEXT NOT NULL DEFAULT '',
    transferred_to  TEXT NOT NULL DEFAULT '',
    application     TEXT NOT NULL DEFAULT '',
    hangup_by       TEXT NOT NULL DEFAULT '',
    hangup_cause    TEXT NOT NULL DEFAULT '',
    rating          TEXT NOT NULL DEFAULT '',
    recording_file  TEXT NOT NULL DEFAULT '',
    extraction_code TEXT NOT NULL DEFAULT '',
    user_id         BIGINT NOT NULL DEFAULT 0,
    department_id   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX cdr_tenant_start ON call_records (tenant_id, start_time);
CREATE INDEX cdr_tenant_ext_start ON call_records (tenant_id, extension, start_time);
CREATE INDEX cdr_tenant_caller ON call_records (tenant_id, caller);
CREATE INDEX cdr_tenant_callee ON call_records (tenant_id, callee);
CREATE INDEX cdr_user_start ON call_records (user_id, start_time);
CREATE INDEX cdr_dept_start ON call_records (department_id, start_time);
CREATE INDEX cdr_extraction ON call_records (extraction_code);

-- One export with recordings: its code (提取码) fetches all its recordings.
CREATE TABLE recording_extracts (
    code       TEXT PRIMARY KEY,
    tenant_id  BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    record_ids TEXT NOT NULL
);

-- +goose Down
DROP TABLE recording_extracts;
DROP TABLE call_records;
