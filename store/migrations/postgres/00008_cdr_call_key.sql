-- +goose Up
-- A call is recorded once: its company, Call-ID and start time (to the
-- second) are its key. The call journal (package calljournal) writes records
-- in batches and, after a crash, writes again what its file holds; the
-- records already in the table are skipped by this index (INSERT … ON
-- CONFLICT DO NOTHING, store/cdr.go SaveCallRecords), so the count triggers of
-- 00007, which run per inserted row, stay right. The Call-ID alone is not the
-- key: it is chosen by the phone or the trunk, not by us, and a peer that
-- reuses one must not make a later call's record vanish. Rows without a
-- Call-ID (none are written by the exchange) are left out.
CREATE UNIQUE INDEX cdr_call ON call_records (call_id, tenant_id, start_time) WHERE call_id <> '';

-- +goose Down
DROP INDEX cdr_call;
