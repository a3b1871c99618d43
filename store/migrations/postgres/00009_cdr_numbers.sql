-- +goose Up
-- "Caller contains 4521" (高级查找's 包含) is an ILIKE '%4521%', which no
-- B-tree answers: it read every call of the scope and the date range, 1.4–2.3 s
-- for a month at 10,000,000 calls (docs/benchmarks.md, "Call records"). A GIN
-- index of the numbers' trigrams (pg_trgm) answers ILIKE with three or more
-- characters between its wildcards: it yields the calls that have every
-- trigram of the fragment and the bitmap heap scan tests the ILIKE itself on
-- those. pg_trgm is a trusted extension, so the database's owner may create
-- it without being a superuser. One index of three columns: GIN keeps each
-- column's trigrams apart, and a condition on any one of them reads only
-- that column's entries. New entries go to the index's pending list
-- (fastupdate), which autovacuum, set by 00007 to visit call_records every
-- 20,000 calls, merges.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX cdr_numbers_trgm ON call_records USING gin (caller gin_trgm_ops, callee gin_trgm_ops, transferred_to gin_trgm_ops);

-- +goose Down
DROP INDEX cdr_numbers_trgm;
