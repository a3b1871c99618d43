-- +goose Up
-- "Caller contains 4521" (高级查找's 包含) is a LIKE '%4521%', which no
-- B-tree answers: it read every call of the scope and the date range, 1.3 s
-- for a company's month at 10,000,000 calls (docs/benchmarks.md, "Call
-- records"). call_record_numbers indexes the trigrams (every three
-- characters in a row) of the numbers, folded to lower case; listCallRecords
-- (store/cdr.go) asks it for the calls whose number has every trigram of the
-- fragment and tests the LIKE itself on those few. It keeps no copy of the
-- numbers (content=call_records), only which column has a trigram, not
-- where (detail=column): a fragment's trigrams are ANDed, which needs no
-- positions, and the LIKE drops the calls that have them apart; and no
-- sizes of the rows (columnsize=0), which only ranking needs.
-- The triggers keep it in the statement that inserts, deletes or changes a
-- call, as the counts of 00007; an external-content index must be told the
-- old numbers of a row to forget it.
CREATE VIRTUAL TABLE call_record_numbers USING fts5(caller, callee, transferred_to,
    content='call_records', content_rowid='id', tokenize='trigram', detail='column', columnsize=0);
INSERT INTO call_record_numbers (call_record_numbers) VALUES ('rebuild');
-- +goose StatementBegin
CREATE TRIGGER cdr_numbers_insert AFTER INSERT ON call_records BEGIN
    INSERT INTO call_record_numbers (rowid, caller, callee, transferred_to) VALUES (NEW.id, NEW.caller, NEW.callee, NEW.transferred_to);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cdr_numbers_delete AFTER DELETE ON call_records BEGIN
    INSERT INTO call_record_numbers (call_record_numbers, rowid, caller, callee, transferred_to) VALUES ('delete', OLD.id, OLD.caller, OLD.callee, OLD.transferred_to);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cdr_numbers_update AFTER UPDATE OF id, caller, callee, transferred_to ON call_records BEGIN
    INSERT INTO call_record_numbers (call_record_numbers, rowid, caller, callee, transferred_to) VALUES ('delete', OLD.id, OLD.caller, OLD.callee, OLD.transferred_to);
    INSERT INTO call_record_numbers (rowid, caller, callee, transferred_to) VALUES (NEW.id, NEW.caller, NEW.callee, NEW.transferred_to);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER cdr_numbers_update;
DROP TRIGGER cdr_numbers_delete;
DROP TRIGGER cdr_numbers_insert;
DROP TABLE call_record_numbers;
