-- revision: 6f708192a3b4
-- down_revision: 5e6f708192a3
-- message: remap priority high to urgent
-- create_date: 2026-11-16 10:00:00

-- migrate:upgrade
-- A data migration: 'high' and 'urgent' meant the same thing to agents.
-- Remember which rows were 'high' so the downgrade can put them back.
CREATE TABLE priority_remap_high (ticket_id bigint PRIMARY KEY);
INSERT INTO priority_remap_high (ticket_id) SELECT id FROM tickets WHERE priority = 'high';
UPDATE tickets SET priority = 'urgent' WHERE priority = 'high';

-- migrate:downgrade
UPDATE tickets SET priority = 'high'
 WHERE id IN (SELECT ticket_id FROM priority_remap_high);
DROP TABLE priority_remap_high;

-- migrate:verify
SELECT NOT EXISTS (SELECT 1 FROM tickets WHERE priority = 'high');
