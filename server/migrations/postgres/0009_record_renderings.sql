-- What the record rule (policy::record_rule) last decided for each incident of each population:
-- its level and the owners it is withheld from ("-": withheld from everyone). When a decision
-- changes, the hub appends an ACCESS change for the incident so that mirrors and peers receive
-- its new rendering, or a REVOKE.
CREATE TABLE record_renderings (
    population TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    rendering TEXT NOT NULL,
    PRIMARY KEY (population, incident_id)
);
