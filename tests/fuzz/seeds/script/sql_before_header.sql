SELECT 1;
-- revision: late
