//! First start and every start: the data dir, the install id, the master key, the store and the
//! administrator's credentials.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;
use underpass_auth::credentials::{KeyRing, MasterKey};
use underpass_domain::PrincipalArn;
use underpass_store::{iam, Store, StoreConfig};

use crate::config::ServerConfig;
use crate::ServerError;

/// The account that administers the install (creates other accounts).
pub const ADMIN_ACCOUNT: &str = "000000000000";
/// Environment variable that may carry the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "UNDERPASS_MASTER_KEY";
/// The file, in the data dir, with the administrator's first access key.
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials.json";

/// What bootstrap hands the server.
pub(crate) struct Booted {
    pub(crate) store: Store,
    pub(crate) master: MasterKey,
}

/// Creates `dir` (mode 0700) if missing.
pub(crate) fn private_dir(dir: &Path) -> Result<(), ServerError> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| ServerError::DataDir(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Writes a new secret file with mode 0600 from the first byte (never chmod after writing).
pub(crate) fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), ServerError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| ServerError::DataDir(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(|e| ServerError::DataDir(format!("cannot write {}: {e}", path.display())))
}

/// Reads a secret file, refusing one that others can read.
pub(crate) fn read_secret_file(path: &Path) -> Result<String, ServerError> {
    let meta = fs::metadata(path)
        .map_err(|e| ServerError::DataDir(format!("cannot read {}: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(ServerError::DataDir(format!(
            "{} is readable by group or others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        )));
    }
    fs::read_to_string(path)
        .map_err(|e| ServerError::DataDir(format!("cannot read {}: {e}", path.display())))
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
        let text = read_secret_file(&path)?;
        return MasterKey::from_base64(&text)
            .map_err(|e| ServerError::DataDir(format!("{}: {e}", path.display())));
    }
    let (key, text) = MasterKey::generate().map_err(|e| ServerError::DataDir(e.to_string()))?;
    write_secret_file(&path, format!("{}\n", text.as_str()).as_bytes())?;
    Ok(key)
}

/// Opens everything; on first start creates the admin account and writes its credentials.
pub(crate) async fn boot(cfg: &ServerConfig) -> Result<Booted, ServerError> {
    private_dir(&cfg.data_dir)?;
    let install = install_id(&cfg.data_dir)?;
    let master = master_key(&cfg.data_dir)?;
    let store = Store::open(&StoreConfig {
        path: cfg.data_dir.join("state.db"),
        install_id: install,
        region: cfg.region.clone(),
        busy_timeout: Duration::from_secs(5),
    })
    .await
    .map_err(|e| ServerError::Store(e.to_string()))?;

    let now = OffsetDateTime::now_utc();
    let mut tx = store
        .begin()
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    let created = iam::ensure_account(&mut tx, ADMIN_ACCOUNT, "admin", now)
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    if created {
        let root: PrincipalArn = format!("arn:aws:iam::{ADMIN_ACCOUNT}:root")
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
            "account_id": ADMIN_ACCOUNT,
            "access_key_id": key.record.id.to_string(),
            "secret_access_key": key.secret.expose(),
        });
        // Written before the commit: a crash in between leaves a file for a key that does not
        // exist, and the next start (finding no account) makes a new pair; it never leaves a key
        // whose secret nobody has.
        let path = cfg.data_dir.join(ADMIN_CREDENTIALS_FILE);
        let _ = fs::remove_file(&path);
        write_secret_file(&path, format!("{json}\n").as_bytes())?;
    }
    tx.commit()
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    Ok(Booted { store, master })
}
