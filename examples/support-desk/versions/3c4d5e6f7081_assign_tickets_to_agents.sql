-- revision: 3c4d5e6f7081
-- down_revision: 2b3c4d5e6f70
-- message: assign tickets to agents
-- create_date: 2026-11-05 14:30:00

-- migrate:upgrade
ALTER TABLE tickets
    ADD COLUMN assignee_id bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN assigned_at timestamptz;
CREATE INDEX tickets_assignee_id_idx ON tickets (assignee_id);

-- migrate:downgrade
DROP INDEX tickets_assignee_id_idx;
ALTER TABLE tickets DROP COLUMN assigned_at, DROP COLUMN assignee_id;
