-- A lead's attempts' outcomes in order (comma-separated: busy,no_answer,...), so the scheduler
-- can be rebuilt at start-up without reading every attempt.
ALTER TABLE leads ADD COLUMN history TEXT NOT NULL DEFAULT '';
