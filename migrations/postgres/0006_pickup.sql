-- Pickup reminders: the pickup point a parcel waits at, and until when it is kept (the lead is
-- not called after that).
ALTER TABLE leads ADD COLUMN pickup_point TEXT;
ALTER TABLE leads ADD COLUMN keep_until_ms BIGINT;
