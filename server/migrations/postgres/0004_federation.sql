-- PostgreSQL twin of migrations/sqlite/0003_federation.sql: foreign incidents, what has been
-- applied from each origin hub, and one row of pull state per peer.

ALTER TABLE incidents ADD COLUMN received_from TEXT;
ALTER TABLE incidents ADD COLUMN received_tier TEXT;

CREATE TABLE federation_applied (
    origin_hub  TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    version     BIGINT NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (origin_hub, incident_id)
);

CREATE TABLE peer_state (
    peer_hub              TEXT PRIMARY KEY NOT NULL,
    cursor                TEXT NOT NULL DEFAULT '',
    last_attempt          TEXT,
    last_success          TEXT,
    last_caught_up        TEXT,
    last_error            TEXT,
    consecutive_errors    BIGINT NOT NULL DEFAULT 0,
    errors_total          BIGINT NOT NULL DEFAULT 0,
    applied_total         BIGINT NOT NULL DEFAULT 0,
    duplicates_total      BIGINT NOT NULL DEFAULT 0,
    withheld_total        BIGINT NOT NULL DEFAULT 0,
    revoked_total         BIGINT NOT NULL DEFAULT 0,
    lag_changes           BIGINT NOT NULL DEFAULT 0,
    withheld_egress_total BIGINT NOT NULL DEFAULT 0
);
