-- revision: 8b9c0d1e2f30
-- down_revision: 7a8b9c0d1e2f
-- depends_on: 1a2b3c4d5e6f
-- message: add agent performance report
-- create_date: 2026-11-13 08:00:00

-- migrate:upgrade
CREATE TABLE report_agent_performance (
    day date NOT NULL,
    agent_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tickets_resolved integer NOT NULL DEFAULT 0,
    median_resolution_seconds integer,
    PRIMARY KEY (day, agent_id)
);

-- migrate:downgrade
DROP TABLE report_agent_performance;
