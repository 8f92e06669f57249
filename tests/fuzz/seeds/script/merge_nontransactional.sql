-- revision: m1
-- down_revision: a1, b2
-- branch_labels: main, other
-- depends_on: r9
-- message: merge
-- transactional: false

-- migrate:upgrade
CREATE INDEX CONCURRENTLY i ON t (c);
-- migrate:downgrade
DROP INDEX CONCURRENTLY i;
-- migrate:verify
SELECT true;
