-- +goose Up
-- Call records are listed newest first inside what a person sees (the
-- company, a user, departments, the other side of an internal call), usually
-- inside a date range and with a few small fields of 高级查找; see
-- store/cdr.go (listCallRecords) and docs/benchmarks.md, "Call records".
-- Each index of a scope column continues with the start time and the ID (the
-- list order) and includes the company and the small fields, so a branch of
-- the list reads its rows in order from the index alone (an index-only scan);
-- a user's also includes the numbers, for an agent's "caller contains". A
-- leader's unanswered calls of a week have their own index, as the
-- company's of any disposition. The other side of a call is set for
-- internal calls only: those two indexes leave the other calls out. The
-- company's own index stays narrow: counting today's 100,000 calls through it
-- is the list's default view, and a wider entry makes that slower.
DROP INDEX cdr_tenant_start;
CREATE INDEX cdr_tenant_start ON call_records (tenant_id, start_time, id);
CREATE INDEX cdr_tenant_disp_start ON call_records (tenant_id, disposition, start_time, id);
DROP INDEX cdr_tenant_ext_start;
CREATE INDEX cdr_tenant_ext_start ON call_records (tenant_id, extension, start_time, id);
DROP INDEX cdr_user_start;
CREATE INDEX cdr_user_start ON call_records (user_id, start_time, id) INCLUDE (tenant_id, disposition, direction, talk_seconds, extension, caller, callee);
DROP INDEX cdr_dept_start;
CREATE INDEX cdr_dept_start ON call_records (department_id, start_time, id) INCLUDE (tenant_id, disposition, direction, talk_seconds, extension);
CREATE INDEX cdr_dept_disp_start ON call_records (department_id, disposition, start_time, id) INCLUDE (tenant_id)
    WHERE disposition <> 'answered';
DROP INDEX cdr_peer_user_start;
CREATE INDEX cdr_peer_user_start ON call_records (peer_user_id, start_time, id) INCLUDE (tenant_id, disposition, direction, talk_seconds, extension, caller, callee)
    WHERE peer_user_id <> 0;
DROP INDEX cdr_peer_dept_start;
CREATE INDEX cdr_peer_dept_start ON call_records (peer_department_id, start_time, id) INCLUDE (tenant_id, disposition, direction, talk_seconds, extension)
    WHERE peer_department_id <> 0;
-- Index-only scans skip the table only for pages the visibility map marks
-- all-visible, which VACUUM does. By default autovacuum visits a table that
-- only grows after 20% more rows (2,000,000 new calls at 10,000,000): today's
-- calls, the list's default view, would be read from the table all day.
ALTER TABLE call_records SET (autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 20000);

-- The number of calls of each user and department, and of each pair of an
-- internal call's two sides: the unfiltered list's "共 N 记录" without
-- counting the table. A trigger keeps them in the statement that inserts,
-- deletes or moves a call, whoever runs it (a retention job too); a count's
-- row stays locked until that transaction ends, so one user's calls are
-- counted one after another.
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
CREATE FUNCTION cdr_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE call_record_counts SET calls = calls - 1
            WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND department_id = OLD.department_id;
        IF OLD.peer_user_id <> 0 OR OLD.peer_department_id <> 0 THEN
            UPDATE call_record_peer_counts SET calls = calls - 1
                WHERE tenant_id = OLD.tenant_id AND peer_user_id = OLD.peer_user_id AND peer_department_id = OLD.peer_department_id
                AND user_id = OLD.user_id AND department_id = OLD.department_id;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO call_record_counts (tenant_id, user_id, department_id, calls) VALUES (NEW.tenant_id, NEW.user_id, NEW.department_id, 1)
            ON CONFLICT (tenant_id, user_id, department_id) DO UPDATE SET calls = call_record_counts.calls + 1;
        IF NEW.peer_user_id <> 0 OR NEW.peer_department_id <> 0 THEN
            INSERT INTO call_record_peer_counts (tenant_id, peer_user_id, peer_department_id, user_id, department_id, calls)
                VALUES (NEW.tenant_id, NEW.peer_user_id, NEW.peer_department_id, NEW.user_id, NEW.department_id, 1)
                ON CONFLICT (tenant_id, peer_user_id, peer_department_id, user_id, department_id) DO UPDATE SET calls = call_record_peer_counts.calls + 1;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER cdr_count AFTER INSERT OR DELETE OR UPDATE OF tenant_id, user_id, department_id, peer_user_id, peer_department_id
    ON call_records FOR EACH ROW EXECUTE FUNCTION cdr_count();

-- +goose Down
DROP TRIGGER cdr_count ON call_records;
DROP FUNCTION cdr_count();
DROP TABLE call_record_peer_counts;
DROP TABLE call_record_counts;
ALTER TABLE call_records RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold);
DROP INDEX cdr_peer_dept_start;
CREATE INDEX cdr_peer_dept_start ON call_records (peer_department_id, start_time);
DROP INDEX cdr_peer_user_start;
CREATE INDEX cdr_peer_user_start ON call_records (peer_user_id, start_time);
DROP INDEX cdr_dept_disp_start;
DROP INDEX cdr_dept_start;
CREATE INDEX cdr_dept_start ON call_records (department_id, start_time);
DROP INDEX cdr_user_start;
CREATE INDEX cdr_user_start ON call_records (user_id, start_time);
DROP INDEX cdr_tenant_ext_start;
CREATE INDEX cdr_tenant_ext_start ON call_records (tenant_id, extension, start_time);
DROP INDEX cdr_tenant_disp_start;
DROP INDEX cdr_tenant_start;
CREATE INDEX cdr_tenant_start ON call_records (tenant_id, start_time);
