-- revision: 9c0d1e2f3041
-- down_revision: 6f708192a3b4, 8b9c0d1e2f30
-- message: merge reporting into main
-- create_date: 2026-11-20 09:00:00

-- migrate:upgrade

-- migrate:downgrade
