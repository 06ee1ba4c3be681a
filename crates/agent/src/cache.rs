//! The last-known-good state on disk, so a restarted agent serves before it reaches the server.

use std::path::{Path, PathBuf};

use underpass_proto::sync::AgentState;

use crate::AgentError;

const STATE_FILE: &str = "state.json";

fn path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// The cached state, if there is a readable one. A corrupt cache is ignored (and logged): the
/// server will send a fresh state.
pub(crate) fn load(dir: &Path) -> Option<AgentState> {
    let text = std::fs::read_to_string(path(dir)).ok()?;
    match serde_json::from_str(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unreadable state cache");
            None
        }
    }
}

/// Writes the state atomically (temporary file, fsync, rename): the cache holds certificates
/// but no private key, so it is a public file.
pub(crate) fn save(dir: &Path, state: &AgentState) -> Result<(), AgentError> {
    let json = serde_json::to_string(state)
        .map_err(|e| AgentError::DataDir(format!("state cache: {e}")))?;
    underpass_pki::fs::write_public_file(&path(dir), &json)?;
    Ok(())
}
