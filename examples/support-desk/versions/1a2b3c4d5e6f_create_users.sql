-- revision: 1a2b3c4d5e6f
-- down_revision:
-- message: create users
-- create_date: 2026-11-02 09:00:00

-- migrate:upgrade
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    display_name text NOT NULL,
    role text NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'admin', 'customer')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- migrate:downgrade
DROP TABLE users;
