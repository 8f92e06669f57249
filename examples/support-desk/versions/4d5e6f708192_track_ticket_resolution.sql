-- revision: 4d5e6f708192
-- down_revision: 3c4d5e6f7081
-- message: track ticket resolution
-- create_date: 2026-11-09 11:15:00

-- migrate:upgrade
ALTER TABLE tickets
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolution_time_seconds integer
        CHECK (resolution_time_seconds IS NULL OR resolution_time_seconds >= 0);
UPDATE tickets
   SET resolved_at = created_at
 WHERE status IN ('resolved', 'closed');

-- migrate:downgrade
ALTER TABLE tickets DROP COLUMN resolution_time_seconds, DROP COLUMN resolved_at;

-- migrate:verify
SELECT NOT EXISTS (
    SELECT 1 FROM tickets WHERE status IN ('resolved', 'closed') AND resolved_at IS NULL
);
