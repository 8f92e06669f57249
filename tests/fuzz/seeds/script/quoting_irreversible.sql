-- revision: fn1
-- down_revision:

-- migrate:upgrade
CREATE FUNCTION f() RETURNS text AS $body$ SELECT $$;$$ /* ; /* nested; */ */ $body$ LANGUAGE sql;
SELECT E'\';', "a;b";
