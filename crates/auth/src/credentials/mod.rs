//! Access keys, secrets sealed at rest, and temporary credentials from AssumeRole.
//!
//! Nothing here touches a disk or a socket: the control plane's store persists the records this
//! module produces, and passes them back in when a request arrives. Randomness comes from the
//! operating system's CSPRNG through aws-lc-rs.
//!
//! - [`MasterKey`] seals every secret access key (AES-256-GCM, bound to its key id) before it is
//!   stored, so a copied database alone yields no usable credential.
//! - [`KeyRing`] holds IAM's access-key rules: create (at most two per user), list, activate and
//!   deactivate, delete, rotate, and last-used information.
//! - [`assume_role`] issues `ASIA…` credentials whose session token is itself sealed, so a
//!   temporary key needs no server-side row and cannot be paired with another session's token.
//! - [`authenticate`] turns a parsed SigV4 request plus the looked-up key into a [`Caller`].

mod authenticate;
mod error;
mod keys;
mod secret;
mod session;

pub use authenticate::{authenticate, Caller, CallerKind};
pub use error::CredentialError;
pub use keys::{
    AccessKeyMeta, AccessKeyRecord, KeyRing, KeyStatus, LastUsed, NewAccessKey, MAX_KEYS_PER_USER,
};
pub use secret::{MasterKey, SealedSecret, SecretAccessKey};
pub use session::{
    assume_role, AssumeRoleRequest, RoleInfo, SessionClaims, SessionToken, TemporaryCredentials,
    DEFAULT_SESSION_SECS, MAX_SESSION_TOKEN_LEN, MIN_SESSION_SECS,
};
