-- PostgreSQL twin of migrations/sqlite/0002_audit.sql. Appends are serialised by a
-- transaction-scoped advisory lock (server/src/store/postgres.rs), so the chain stays one line
-- whatever the number of hub replicas writing to it.

CREATE TABLE audit_log (
    seq              BIGINT PRIMARY KEY,    -- 1, 2, 3, ... without gaps
    time             TEXT NOT NULL,
    hub_id           TEXT NOT NULL,
    org              TEXT NOT NULL,
    subject          TEXT NOT NULL,
    roles            TEXT NOT NULL,         -- JSON array
    cert_sha256      TEXT NOT NULL,
    peer_address     TEXT NOT NULL,
    method           TEXT NOT NULL,
    request_summary  TEXT NOT NULL,         -- JSON: ids, filters, counts; never incident content
    outcome          TEXT NOT NULL,
    records_returned BIGINT NOT NULL,
    fields_redacted  BIGINT NOT NULL,
    policy_version   TEXT NOT NULL,
    incident_ids     TEXT NOT NULL,         -- JSON array
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);

CREATE INDEX audit_log_by_time ON audit_log (time);
CREATE INDEX audit_log_by_org ON audit_log (org, time);

CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      TEXT NOT NULL,
    time      TEXT NOT NULL,
    signature TEXT NOT NULL
);
