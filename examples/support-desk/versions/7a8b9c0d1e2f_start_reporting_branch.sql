-- revision: 7a8b9c0d1e2f
-- down_revision:
-- branch_labels: reporting
-- message: start reporting branch with daily ticket counts
-- create_date: 2026-11-10 08:00:00

-- migrate:upgrade
CREATE TABLE report_daily_ticket_counts (
    day date PRIMARY KEY,
    opened integer NOT NULL DEFAULT 0,
    resolved integer NOT NULL DEFAULT 0
);

-- migrate:downgrade
DROP TABLE report_daily_ticket_counts;
