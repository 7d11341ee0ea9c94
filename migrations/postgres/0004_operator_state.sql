-- An operator's state as last set (ready, paused with a reason, logged out).
ALTER TABLE operators ADD COLUMN state TEXT NOT NULL DEFAULT 'logged_out';
ALTER TABLE operators ADD COLUMN pause_reason TEXT;
