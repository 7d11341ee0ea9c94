-- API tokens may expire; when each was last used (kept to the minute).
ALTER TABLE api_tokens ADD COLUMN expires_ms INTEGER;
ALTER TABLE api_tokens ADD COLUMN last_used_ms INTEGER;
