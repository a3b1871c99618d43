-- +goose Up
-- An internal call belongs to both agents: the called extension's user and
-- department see it too.
ALTER TABLE call_records ADD COLUMN peer_user_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_records ADD COLUMN peer_department_id BIGINT NOT NULL DEFAULT 0;
CREATE INDEX cdr_peer_user_start ON call_records (peer_user_id, start_time);
CREATE INDEX cdr_peer_dept_start ON call_records (peer_department_id, start_time);

-- +goose Down
DROP INDEX cdr_peer_dept_start;
DROP INDEX cdr_peer_user_start;
ALTER TABLE call_records DROP COLUMN peer_department_id;
ALTER TABLE call_records DROP COLUMN peer_user_id;
