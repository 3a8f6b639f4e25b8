-- Federation: foreign incidents (pulled from peer hubs), what has been applied from each origin
-- hub, and one row of pull state per peer.

-- A foreign incident records the peer it was pulled from and the tier that peer gave us (no
-- local viewer gets more). Both NULL for this hub's own incidents.
ALTER TABLE incidents ADD COLUMN received_from TEXT;
ALTER TABLE incidents ADD COLUMN received_tier TEXT;

-- The highest version of each foreign incident applied here, per origin hub, and whether it was
-- revoked since: (origin_hub, id, version) is applied at most once, an older version never
-- overwrites a newer one, and a revoked copy is not brought back by a stale relay.
CREATE TABLE federation_applied (
    origin_hub  TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (origin_hub, incident_id)
);

-- Pull state per peer: the cursor (written in the same transaction as the changes it covers)
-- and the status admins see.
CREATE TABLE peer_state (
    peer_hub           TEXT PRIMARY KEY NOT NULL,
    cursor             TEXT NOT NULL DEFAULT '',
    last_attempt       TEXT,
    last_success       TEXT,
    -- The last time a pull reached the end of the peer's log.
    last_caught_up     TEXT,
    last_error         TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    errors_total       INTEGER NOT NULL DEFAULT 0,
    applied_total      INTEGER NOT NULL DEFAULT 0,
    duplicates_total   INTEGER NOT NULL DEFAULT 0,
    withheld_total     INTEGER NOT NULL DEFAULT 0,
    revoked_total      INTEGER NOT NULL DEFAULT 0,
    -- Log entries the peer still had for us at the last page.
    lag_changes        INTEGER NOT NULL DEFAULT 0,
    -- The serving side: incidents in our log the peer pulled past without receiving them
    -- (not visible under its agreement: distribution, TLP, origin, filters).
    withheld_egress_total INTEGER NOT NULL DEFAULT 0
);
