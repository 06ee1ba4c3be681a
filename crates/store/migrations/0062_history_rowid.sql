-- connection_history numbers its rows without AUTOINCREMENT. Its rows are never deleted, so a
-- plain INTEGER PRIMARY KEY gives each new row the largest number plus one, as AUTOINCREMENT
-- did, without reading and rewriting the table's row in sqlite_sequence on every insert (two or
-- three per CreateVpcEndpoint, and a page of every group commit's WAL: one frame in 16).
CREATE TABLE connection_history_rowid (
    seq          INTEGER PRIMARY KEY,
    endpoint_id  TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT NOT NULL,
    event        TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at_ms        INTEGER NOT NULL
);
INSERT INTO connection_history_rowid (seq, endpoint_id, from_state, to_state, event, actor, at_ms)
    SELECT seq, endpoint_id, from_state, to_state, event, actor, at_ms FROM connection_history;
DROP TABLE connection_history;
ALTER TABLE connection_history_rowid RENAME TO connection_history;
