-- revision: 2b3c4d5e6f70
-- down_revision: 1a2b3c4d5e6f
-- message: create tickets
-- create_date: 2026-11-03 09:00:00

-- migrate:upgrade
CREATE TABLE tickets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject text NOT NULL,
    body text NOT NULL DEFAULT '',
    requester_id bigint NOT NULL REFERENCES users (id),
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority text NOT NULL DEFAULT 'normal'
        CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_status_idx ON tickets (status);
CREATE INDEX tickets_priority_idx ON tickets (priority);
CREATE INDEX tickets_created_at_idx ON tickets (created_at);

-- migrate:downgrade
DROP TABLE tickets;

-- migrate:verify
SELECT count(*) = 3 FROM pg_index
 WHERE indrelid = 'tickets'::regclass
   AND indexrelid::regclass::text IN ('tickets_status_idx', 'tickets_priority_idx', 'tickets_created_at_idx');
