-- revision: 5e6f708192a3
-- down_revision: 4d5e6f708192
-- message: add satisfaction surveys
-- create_date: 2026-11-12 16:45:00

-- migrate:upgrade
CREATE TABLE satisfaction_surveys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment text,
    submitted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX satisfaction_surveys_ticket_id_idx ON satisfaction_surveys (ticket_id);
CREATE INDEX satisfaction_surveys_submitted_at_idx ON satisfaction_surveys (submitted_at);

-- migrate:downgrade
DROP TABLE satisfaction_surveys;
