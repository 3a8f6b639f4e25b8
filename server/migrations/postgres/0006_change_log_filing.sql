-- Where each change-log entry's incident or advisory was filed (country, threat category) at
-- that version, so the feed can tell whether a peer hub, whose agreement filters by country
-- and category, could ever have held a copy before sending it a REVOKE. NULL for entries
-- written before this migration and for entries nobody can see (unknown: treated as inside
-- every filter, as before).
ALTER TABLE change_log ADD COLUMN country TEXT;
ALTER TABLE change_log ADD COLUMN threat_category TEXT;
