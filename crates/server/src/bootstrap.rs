//! First start and every start: the data dir, the install id, the master key, the store and the
//! administrator's credentials.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;
use underpass_auth::credentials::{KeyRing, MasterKey};
use underpass_domain::PrincipalArn;
use underpass_pki::CertificateAuthority;
use underpass_store::{iam, Store, StoreConfig};

use crate::config::ServerConfig;
use crate::ServerError;

/// The default account that administers the install (creates other accounts); see
/// [`ServerConfig::admin_account`].
pub const ADMIN_ACCOUNT: &str = "000000000000";
/// Environment variable that may carry the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "UNDERPASS_MASTER_KEY";
/// The file, in the data dir, with the administrator's first access key.
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials.json";

/// What bootstrap hands the server.
pub(crate) struct Booted {
    pub(crate) store: Store,
    pub(crate) master: MasterKey,
    pub(crate) ca: CertificateAuthority,
}

fn fs_err(e: underpass_pki::PkiError) -> ServerError {
    ServerError::DataDir(e.to_string())
}

fn install_id(dir: &Path) -> Result<String, ServerError> {
    let path = dir.join("install-id");
    if path.exists() {
        let id = fs::read_to_string(&path)
            .map_err(|e| ServerError::DataDir(format!("cannot read {}: {e}", path.display())))?;
        return Ok(id.trim().to_owned());
    }
    let id = crate::api::request_id();
    fs::write(&path, format!("{id}\n"))
        .map_err(|e| ServerError::DataDir(format!("cannot write {}: {e}", path.display())))?;
    Ok(id)
}

fn master_key(dir: &Path) -> Result<MasterKey, ServerError> {
    if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
        return MasterKey::from_base64(&text)
            .map_err(|e| ServerError::DataDir(format!("{MASTER_KEY_ENV}: {e}")));
    }
    let path: PathBuf = dir.join("master.key");
    if path.exists() {
        // Refused if group- or world-readable.
        let text = underpass_pki::fs::read_private_key(&path).map_err(fs_err)?;
        return MasterKey::from_base64(&text)
            .map_err(|e| ServerError::DataDir(format!("{}: {e}", path.display())));
    }
    let (key, text) = MasterKey::generate().map_err(|e| ServerError::DataDir(e.to_string()))?;
    underpass_pki::fs::write_private_key(&path, &format!("{}\n", text.as_str())).map_err(fs_err)?;
    Ok(key)
}

/// The administrator's account is chosen on first start: a later start with another one is
/// refused rather than leaving an administrator without keys.
fn check_admin_account(dir: &Path, admin: &str) -> Result<(), ServerError> {
    let path = dir.join(ADMIN_CREDENTIALS_FILE);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(());
    };
    let existing = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["account_id"].as_str().map(str::to_owned));
    match existing {
        Some(a) if a != admin => Err(ServerError::DataDir(format!(
            "{} belongs to administrator account {a}, not {admin}",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Opens everything; on first start creates the admin account and writes its credentials.
pub(crate) async fn boot(cfg: &ServerConfig) -> Result<Booted, ServerError> {
    let admin = cfg.admin_account.as_str();
    if admin.len() != 12 || !admin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ServerError::DataDir(format!(
            "the administrator's account id must be 12 digits, not {admin:?}"
        )));
    }
    underpass_pki::fs::create_private_dir(&cfg.data_dir).map_err(fs_err)?;
    check_admin_account(&cfg.data_dir, admin)?;
    let install = install_id(&cfg.data_dir)?;
    let master = master_key(&cfg.data_dir)?;
    let ca_dir = cfg.data_dir.join("ca");
    let ca = if ca_dir.join(underpass_pki::fs::CA_CERT_FILE).exists() {
        underpass_pki::fs::load_ca(&ca_dir)
            .map_err(|e| ServerError::DataDir(format!("certificate authority: {e}")))?
    } else {
        let ca = CertificateAuthority::generate(&install, OffsetDateTime::now_utc())
            .map_err(|e| ServerError::DataDir(e.to_string()))?;
        underpass_pki::fs::create_private_dir(&ca_dir).map_err(fs_err)?;
        underpass_pki::fs::save_ca(&ca, &ca_dir)
            .map_err(|e| ServerError::DataDir(format!("certificate authority: {e}")))?;
        ca
    };
    let store = Store::open(&StoreConfig {
        path: cfg.data_dir.join("state.db"),
        install_id: install.clone(),
        region: cfg.primary_region().to_owned(),
        busy_timeout: Duration::from_secs(5),
    })
    .await
    .map_err(|e| ServerError::Store(e.to_string()))?;

    let now = OffsetDateTime::now_utc();
    let mut tx = store
        .begin()
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    let created = iam::ensure_account(&mut tx, admin, "admin", now)
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    // Rows from before regions existed were served in the primary region; they stay there.
    // (The administrator's default VPCs are made by `default_vpc::open_regions` once the
    // server's state exists.)
    let adopted = underpass_store::regions::adopt(&mut tx, cfg.primary_region())
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    if adopted > 0 {
        tracing::info!(
            rows = adopted,
            region = cfg.primary_region(),
            "rows from before regions placed in the primary region"
        );
    }
    if created {
        let root: PrincipalArn = format!("arn:aws:iam::{admin}:root")
            .parse()
            .map_err(|e| ServerError::Store(format!("{e}")))?;
        let key = KeyRing::new()
            .create(&master, &root, now)
            .map_err(|e| ServerError::Store(e.to_string()))?;
        iam::insert_key(
            &mut tx,
            &iam::KeyRow {
                access_key_id: key.record.id.to_string(),
                owner_arn: root.to_string(),
                status: "Active".into(),
                created: now,
                last_used: None,
                sealed_secret: key.record.sealed_secret.as_stored().to_owned(),
            },
        )
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
        let json = serde_json::json!({
            "account_id": admin,
            "access_key_id": key.record.id.to_string(),
            "secret_access_key": key.secret.expose(),
        });
        // Written before the commit: a crash in between leaves a file for a key that does not
        // exist, and the next start (finding no account) makes a new pair; it never leaves a key
        // whose secret nobody has.
        let path = cfg.data_dir.join(ADMIN_CREDENTIALS_FILE);
        underpass_pki::fs::write_private_key(&path, &format!("{json}\n")).map_err(fs_err)?;
    }
    tx.commit()
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    Ok(Booted { store, master, ca })
}
