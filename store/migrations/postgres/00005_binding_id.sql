-- +goose Up
-- The SIP edge names each binding by an ID that lives as long as the binding
-- (refreshes, and a phone that moves to a new contact, keep it).
ALTER TABLE sip_registrations ADD COLUMN binding_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sip_registrations ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sip_registrations ADD COLUMN nat INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sip_registrations ADD COLUMN unreachable INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sip_registrations_binding_id ON sip_registrations (binding_id);

-- +goose Down
DROP INDEX sip_registrations_binding_id;
ALTER TABLE sip_registrations DROP COLUMN unreachable;
ALTER TABLE sip_registrations DROP COLUMN nat;
ALTER TABLE sip_registrations DROP COLUMN tenant_id;
ALTER TABLE sip_registrations DROP COLUMN binding_id;
