-- Written by Alembic 1.8.1 (python3 -m alembic upgrade 4d5e6f708192 --sql, transaction_per_migration=True)
-- from examples/support-desk converted into an Alembic project: a database Alembic migrated.
BEGIN;

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 1a2b3c4d5e6f

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    display_name text NOT NULL,
    role text NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'admin', 'customer')),
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO alembic_version (version_num) VALUES ('1a2b3c4d5e6f') RETURNING alembic_version.version_num;

COMMIT;

BEGIN;

-- Running upgrade 1a2b3c4d5e6f -> 2b3c4d5e6f70

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

UPDATE alembic_version SET version_num='2b3c4d5e6f70' WHERE alembic_version.version_num = '1a2b3c4d5e6f';

COMMIT;

BEGIN;

-- Running upgrade 2b3c4d5e6f70 -> 3c4d5e6f7081

ALTER TABLE tickets
    ADD COLUMN assignee_id bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN assigned_at timestamptz;
CREATE INDEX tickets_assignee_id_idx ON tickets (assignee_id);

UPDATE alembic_version SET version_num='3c4d5e6f7081' WHERE alembic_version.version_num = '2b3c4d5e6f70';

COMMIT;

BEGIN;

-- Running upgrade 3c4d5e6f7081 -> 4d5e6f708192

ALTER TABLE tickets
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolution_time_seconds integer
        CHECK (resolution_time_seconds IS NULL OR resolution_time_seconds >= 0);
UPDATE tickets
   SET resolved_at = created_at
 WHERE status IN ('resolved', 'closed');

UPDATE alembic_version SET version_num='4d5e6f708192' WHERE alembic_version.version_num = '3c4d5e6f7081';

COMMIT;

