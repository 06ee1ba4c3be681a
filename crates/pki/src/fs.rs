//! Key and certificate files on disk.
//!
//! Private keys are created with mode 0600 from the first byte (the file is opened with that
//! mode, never chmod'ed after writing) in a directory created 0700, and replaced atomically
//! (write a temporary file, fsync, rename, fsync the directory). Loading refuses a key file
//! that group or others can read.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::ca::CertificateAuthority;
use crate::error::PkiError;

/// File name of the CA's private key inside its directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// File name of the CA's certificate inside its directory.
pub const CA_CERT_FILE: &str = "ca.crt";

/// Largest key or certificate file read (far above any real one).
const MAX_FILE_LEN: u64 = 1024 * 1024;

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PkiError {
    let path = path.to_path_buf();
    move |source| PkiError::Io { op, path, source }
}

/// Creates `dir` (and missing parents) with mode 0700, or checks that an existing one is not
/// writable by group or others.
pub fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    match std::fs::metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(io_err("use as a directory", dir)(std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "not a directory",
                )));
            }
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o022 != 0 {
                return Err(PkiError::KeyDirPermissions {
                    path: dir.to_path_buf(),
                    mode,
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err("create directory", dir)),
        Err(e) => Err(io_err("inspect", dir)(e)),
    }
}

/// Writes `contents` to `path` atomically, the new file created with `mode` from the start.
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| {
            io_err("write", path)(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no file name",
            ))
        })?
        .to_string_lossy();
    let mut nonce = [0u8; 8];
    crate::random_fill(&mut nonce)?;
    let tmp: PathBuf = dir.join(format!(".{name}.tmp-{:016x}", u64::from_be_bytes(nonce)));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        file.write_all(contents).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("sync", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync directory", dir))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes a private key (PEM) readable by its owner only: mode 0600, in a 0700 directory.
pub fn write_private_key(path: &Path, pem: &str) -> Result<(), PkiError> {
    write_atomic(path, pem.as_bytes(), 0o600)
}

/// Writes a certificate or other public file (mode 0644) in a 0700 directory.
pub fn write_public_file(path: &Path, contents: &str) -> Result<(), PkiError> {
    write_atomic(path, contents.as_bytes(), 0o644)
}

fn read_bounded(path: &Path, file: &mut File, len: u64) -> Result<Zeroizing<String>, PkiError> {
    if len > MAX_FILE_LEN {
        return Err(PkiError::Decode {
            what: "key or certificate file",
            detail: format!(
                "{} is {len} bytes, more than {MAX_FILE_LEN}",
                path.display()
            ),
        });
    }
    // Sized up front so the buffer never reallocates and leaves unwiped copies behind.
    let mut text = Zeroizing::new(String::with_capacity(len as usize + 1));
    file.take(MAX_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(io_err("read", path))?;
    Ok(text)
}

/// Reads a private key file, refusing it if group or others may read or write it.
pub fn read_private_key(path: &Path) -> Result<Zeroizing<String>, PkiError> {
    let mut file = File::open(path).map_err(io_err("open", path))?;
    // Permissions of the file actually opened, not of whatever the path names later.
    let meta = file.metadata().map_err(io_err("inspect", path))?;
    if !meta.is_file() {
        return Err(io_err("read", path)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PkiError::KeyFilePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    read_bounded(path, &mut file, meta.len())
}

/// Reads a certificate or other public file.
pub fn read_public_file(path: &Path) -> Result<String, PkiError> {
    let mut file = File::open(path).map_err(io_err("open", path))?;
    let len = file.metadata().map_err(io_err("inspect", path))?.len();
    Ok(read_bounded(path, &mut file, len)?.to_string())
}

/// Saves a CA as `ca.key` (0600) and `ca.crt` (0644) in `dir` (created 0700).
pub fn save_ca(ca: &CertificateAuthority, dir: &Path) -> Result<(), PkiError> {
    write_private_key(&dir.join(CA_KEY_FILE), &ca.key_pem())?;
    write_public_file(&dir.join(CA_CERT_FILE), ca.cert_pem())
}

/// Loads the CA saved by [`save_ca`], refusing a key file others can read.
pub fn load_ca(dir: &Path) -> Result<CertificateAuthority, PkiError> {
    let key = read_private_key(&dir.join(CA_KEY_FILE))?;
    let cert = read_public_file(&dir.join(CA_CERT_FILE))?;
    CertificateAuthority::from_pem(&cert, &key)
}
