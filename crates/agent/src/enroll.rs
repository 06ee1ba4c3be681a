//! Enrollment: the key, the CSR, the certificate, and the files that remember them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use underpass_pki::fs::{read_private_key, read_public_file, write_private_key, write_public_file};
use underpass_pki::LeafKey;
use zeroize::Zeroizing;

use crate::{AgentConfig, AgentError};

const KEY_FILE: &str = "agent.key";
const CERT_FILE: &str = "agent.crt";
const ENROLLMENT_FILE: &str = "enrollment.json";

/// What enrollment established; kept in the data dir.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Enrollment {
    /// `agent-…`.
    pub agent_id: String,
    /// The agent's account.
    pub account: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its zone.
    pub zone: String,
    /// The agent certificate.
    pub cert_pem: String,
    /// CA certificates to trust.
    pub ca_pems: Vec<String>,
    /// The control plane's mTLS sync address.
    pub agent_api: String,
    /// The SPIFFE id the control plane presents.
    pub server_identity: String,
    /// When to renew the agent certificate (RFC 3339).
    #[serde(default)]
    pub renew_at: Option<String>,
}

/// The enrollment and the agent's private key.
pub(crate) struct Identity {
    pub(crate) enrollment: Enrollment,
    pub(crate) key_pem: Zeroizing<String>,
}

fn data_err(what: &str, e: impl std::fmt::Display) -> AgentError {
    AgentError::DataDir(format!("{what}: {e}"))
}

/// Loads the enrollment from the data dir, or enrolls with the join token.
pub(crate) async fn load_or_enroll(cfg: &AgentConfig) -> Result<Identity, AgentError> {
    let dir = &cfg.data_dir;
    underpass_pki::fs::create_private_dir(dir)?;
    if dir.join(ENROLLMENT_FILE).exists() {
        return load(dir);
    }
    let token = cfg.join_token.as_ref().ok_or(AgentError::NotEnrolled)?;
    let (key, csr) = LeafKey::generate_with_csr()?;
    let url = format!("{}/agent/v1/enroll", cfg.server_url.trim_end_matches('/'));
    let body = serde_json::json!({ "JoinToken": token.as_str(), "CsrPem": csr });
    let resp = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| AgentError::Unreachable {
            url: url.clone(),
            detail: e.to_string(),
        })?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| AgentError::Unreachable {
        url: url.clone(),
        detail: e.to_string(),
    })?;
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let msg = v["Error"]["Message"].as_str().unwrap_or(&text).to_owned();
        return Err(AgentError::EnrollRefused(format!("HTTP {status}: {msg}")));
    }
    let enrollment: Enrollment = serde_json::from_str(&text)
        .map_err(|e| AgentError::EnrollRefused(format!("bad response: {e}")))?;
    // Key first (0600 from the first byte), then the certificate, then the record that says
    // enrollment is complete: a crash in between leaves no half-enrolled agent that thinks it is whole.
    write_private_key(&dir.join(KEY_FILE), &key.pem())?;
    write_public_file(&dir.join(CERT_FILE), &enrollment.cert_pem)?;
    let json = serde_json::to_string_pretty(&enrollment).map_err(|e| data_err("enrollment", e))?;
    write_public_file(&dir.join(ENROLLMENT_FILE), &json)?;
    tracing::info!(agent = %enrollment.agent_id, vpc = %enrollment.vpc_id, zone = %enrollment.zone, "enrolled");
    Ok(Identity {
        enrollment,
        key_pem: key.pem(),
    })
}

/// Stores a renewed certificate: the certificate file, then the enrollment record.
pub(crate) fn save_renewed(dir: &Path, enrollment: &Enrollment) -> Result<(), AgentError> {
    write_public_file(&dir.join(CERT_FILE), &enrollment.cert_pem)?;
    let json = serde_json::to_string_pretty(enrollment).map_err(|e| data_err("enrollment", e))?;
    write_public_file(&dir.join(ENROLLMENT_FILE), &json)?;
    Ok(())
}

fn load(dir: &Path) -> Result<Identity, AgentError> {
    let text = read_public_file(&dir.join(ENROLLMENT_FILE))?;
    let enrollment: Enrollment =
        serde_json::from_str(&text).map_err(|e| data_err("enrollment.json", e))?;
    // Refused if group- or world-readable.
    let key_pem = read_private_key(&dir.join(KEY_FILE))?;
    Ok(Identity {
        enrollment,
        key_pem,
    })
}
