-- +goose Up
-- Call records are listed newest first inside what a person sees (the
-- company, a user, departments, the other side of an internal call), usually
-- inside a date range and with a few small fields of 高级查找; see
-- store/cdr.go (listCallRecords) and docs/benchmarks.md, "Call records".
-- Each index of a scope column continues with the start time and the ID (the
-- list order) and carries the company and the small fields, so a branch of
-- the list reads its rows in order and tests those conditions in the index;
-- a user's also carries the numbers, for an agent's "caller contains". A
-- leader's unanswered calls of a week have their own index, as the
-- company's of any disposition. The other side of a call is set for
-- internal calls only: those two indexes leave the other calls out.
DROP INDEX cdr_tenant_start;
CREATE INDEX cdr_tenant_start ON call_records (tenant_id, start_time, id, disposition, direction, talk_seconds, extension);
CREATE INDEX cdr_tenant_disp_start ON call_records (tenant_id, disposition, start_time);
DROP INDEX cdr_user_start;
CREATE INDEX cdr_user_start ON call_records (user_id, start_time, id, tenant_id, disposition, direction, talk_seconds, extension, caller, callee);
DROP INDEX cdr_dept_start;
CREATE INDEX cdr_dept_start ON call_records (department_id, start_time, id, tenant_id, disposition, direction, talk_seconds, extension);
CREATE INDEX cdr_dept_disp_start ON call_records (department_id, disposition, start_time, id, tenant_id)
    WHERE disposition <> 'answered';
DROP INDEX cdr_peer_user_start;
CREATE INDEX cdr_peer_user_start ON call_records (peer_user_id, start_time, id, tenant_id, disposition, direction, talk_seconds, extension, caller, callee)
    WHERE peer_user_id <> 0;
DROP INDEX cdr_peer_dept_start;
CREATE INDEX cdr_peer_dept_start ON call_records (peer_department_id, start_time, id, tenant_id, disposition, direction, talk_seconds, extension)
    WHERE peer_department_id <> 0;

-- The number of calls of each user and department, and of each pair of an
-- internal call's two sides: the unfiltered list's "共 N 记录" without
-- counting the table. Triggers keep them in the statement that inserts,
-- deletes or moves a call, whoever runs it (a retention job too).
CREATE TABLE call_record_counts (
    tenant_id     BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    department_id BIGINT NOT NULL,
    calls         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, department_id)
);
CREATE TABLE call_record_peer_counts (
    tenant_id          BIGINT NOT NULL,
    peer_user_id       BIGINT NOT NULL,
    peer_department_id BIGINT NOT NULL,
    user_id            BIGINT NOT NULL,
    department_id      BIGINT NOT NULL,
    calls              BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, peer_user_id, peer_department_id, user_id, department_id)
);
CREATE INDEX cdr_peer_counts_dept ON call_record_peer_counts (tenant_id, peer_department_id);
INSERT INTO call_record_counts (tenant_id, user_id, department_id, calls)
    SELECT tenant_id, user_id, department_id, COUNT(*) FROM call_records GROUP BY tenant_id, user_id, department_id;
INSERT INTO call_record_peer_counts (tenant_id, peer_user_id, peer_department_id, user_id, department_id, calls)
    SELECT tenant_id, peer_user_id, peer_department_id, user_id, department_id, COUNT(*) FROM call_records
    WHERE peer_user_id <> 0 OR peer_department_id <> 0
    GROUP BY tenant_id, peer_user_id, peer_department_id, user_id, department_id;
-- +goose StatementBegin
CREATE TRIGGER cdr_count_insert AFTER INSERT ON call_records BEGIN
    INSERT INTO call_record_counts (tenant_id, user_id, department_id, calls) VALUES (NEW.tenant_id, NEW.user_id, NEW.department_id, 1)
        ON CONFLICT (tenant_id, user_id, department_id) DO UPDATE SET calls = calls + 1;
    INSERT INTO call_record_peer_counts (tenant_id, peer_user_id, peer_department_id, user_id, department_id, calls)
        SELECT NEW.tenant_id, NEW.peer_user_id, NEW.peer_department_id, NEW.user_id, NEW.department_id, 1
        WHERE NEW.peer_user_id <> 0 OR NEW.peer_department_id <> 0
        ON CONFLICT (tenant_id, peer_user_id, peer_department_id, user_id, department_id) DO UPDATE SET calls = calls + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cdr_count_delete AFTER DELETE ON call_records BEGIN
    UPDATE call_record_counts SET calls = calls - 1
        WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND department_id = OLD.department_id;
    UPDATE call_record_peer_counts SET calls = calls - 1
        WHERE tenant_id = OLD.tenant_id AND peer_user_id = OLD.peer_user_id AND peer_department_id = OLD.peer_department_id
        AND user_id = OLD.user_id AND department_id = OLD.department_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cdr_count_update AFTER UPDATE OF tenant_id, user_id, department_id, peer_user_id, peer_department_id ON call_records BEGIN
    UPDATE call_record_counts SET calls = calls - 1
        WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND department_id = OLD.department_id;
    UPDATE call_record_peer_counts SET calls = calls - 1
        WHERE tenant_id = OLD.tenant_id AND peer_user_id = OLD.peer_user_id AND peer_department_id = OLD.peer_department_id
        AND user_id = OLD.user_id AND department_id = OLD.department_id;
    INSERT INTO call_record_counts (tenant_id, user_id, department_id, calls) VALUES (NEW.tenant_id, NEW.user_id, NEW.department_id, 1)
        ON CONFLICT (tenant_id, user_id, department_id) DO UPDATE SET calls = calls + 1;
    INSERT INTO call_record_peer_counts (tenant_id, peer_user_id, peer_department_id, user_id, department_id, calls)
        SELECT NEW.tenant_id, NEW.peer_user_id, NEW.peer_department_id, NEW.user_id, NEW.department_id, 1
        WHERE NEW.peer_user_id <> 0 OR NEW.peer_department_id <> 0
        ON CONFLICT (tenant_id, peer_user_id, peer_department_id, user_id, department_id) DO UPDATE SET calls = calls + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER cdr_count_update;
DROP TRIGGER cdr_count_delete;
DROP TRIGGER cdr_count_insert;
DROP TABLE call_record_peer_counts;
DROP TABLE call_record_counts;
DROP INDEX cdr_peer_dept_start;
CREATE INDEX cdr_peer_dept_start ON call_records (peer_department_id, start_time);
DROP INDEX cdr_peer_user_start;
CREATE INDEX cdr_peer_user_start ON call_records (peer_user_id, start_time);
DROP INDEX cdr_dept_disp_start;
DROP INDEX cdr_dept_start;
CREATE INDEX cdr_dept_start ON call_records (department_id, start_time);
DROP INDEX cdr_user_start;
CREATE INDEX cdr_user_start ON call_records (user_id, start_time);
DROP INDEX cdr_tenant_disp_start;
DROP INDEX cdr_tenant_start;
CREATE INDEX cdr_tenant_start ON call_records (tenant_id, start_time);
