-- Agents keep their enrollment CSR so the CA can issue endpoint and service identities for the
-- same key; every certificate issued to an agent is recorded so revoking the agent revokes all.
ALTER TABLE agents ADD COLUMN csr_der BLOB;
ALTER TABLE agents ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;

CREATE TABLE issued_certs (
    serial         TEXT PRIMARY KEY,
    agent_id       TEXT NOT NULL,
    identity       TEXT NOT NULL,
    cert_pem       TEXT NOT NULL,
    not_before_ms  INTEGER NOT NULL,
    not_after_ms   INTEGER NOT NULL
);
CREATE INDEX issued_certs_agent ON issued_certs(agent_id, identity);
