-- The support desk's schema as it stands at head (9c0d1e2f3041), declared:
-- what `fleetctl revision --autogenerate` compares the versions directory
-- with (schema = "schema/" in fleet.toml). Change it here, then let
-- autogenerate write the revision.

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    display_name text NOT NULL,
    role text NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'admin', 'customer')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tickets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject text NOT NULL,
    body text NOT NULL DEFAULT '',
    requester_id bigint NOT NULL REFERENCES users (id),
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority text NOT NULL DEFAULT 'normal'
        CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    created_at timestamptz NOT NULL DEFAULT now(),
    assignee_id bigint REFERENCES users (id) ON DELETE SET NULL,
    assigned_at timestamptz,
    resolved_at timestamptz,
    resolution_time_seconds integer
        CHECK (resolution_time_seconds IS NULL OR resolution_time_seconds >= 0)
);
CREATE INDEX tickets_status_idx ON tickets (status);
CREATE INDEX tickets_priority_idx ON tickets (priority);
CREATE INDEX tickets_created_at_idx ON tickets (created_at);
CREATE INDEX tickets_assignee_id_idx ON tickets (assignee_id);

CREATE TABLE satisfaction_surveys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment text,
    submitted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX satisfaction_surveys_ticket_id_idx ON satisfaction_surveys (ticket_id);
CREATE INDEX satisfaction_surveys_submitted_at_idx ON satisfaction_surveys (submitted_at);

-- Which tickets the priority remap (6f708192a3b4) moved, so its downgrade can move them back.
CREATE TABLE priority_remap_high (
    ticket_id bigint PRIMARY KEY
);

-- The reporting branch.
CREATE TABLE report_daily_ticket_counts (
    day date PRIMARY KEY,
    opened integer NOT NULL DEFAULT 0,
    resolved integer NOT NULL DEFAULT 0
);

CREATE TABLE report_agent_performance (
    day date NOT NULL,
    agent_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tickets_resolved integer NOT NULL DEFAULT 0,
    median_resolution_seconds integer,
    PRIMARY KEY (day, agent_id)
);
