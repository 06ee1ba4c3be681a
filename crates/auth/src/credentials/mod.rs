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
//! - [`get_session_token`] issues `ASIA…` credentials for a user (or root) itself, which
//!   authenticate as that same principal.
//! - [`authenticate`] turns a parsed SigV4 request plus the looked-up key into a [`Caller`].

mod authenticate;
mod error;
mod keys;
mod secret;
mod session;

pub use authenticate::{authenticate, authenticate_keeping, Caller, CallerKind};
pub use error::CredentialError;
pub use keys::{
    AccessKeyMeta, AccessKeyRecord, KeyRing, KeyStatus, LastUsed, NewAccessKey, MAX_KEYS_PER_USER,
};
pub use secret::{MasterKey, SealedSecret, SecretAccessKey};
pub use session::{
    assume_role, get_session_token, AssumeRoleRequest, RoleInfo, SessionClaims, SessionCredentials,
    SessionToken, SessionTokenRequest, TemporaryCredentials, DEFAULT_SESSION_SECS,
    DEFAULT_USER_SESSION_SECS, MAX_ROOT_SESSION_SECS, MAX_SESSION_TOKEN_LEN, MAX_USER_SESSION_SECS,
    MIN_SESSION_SECS, MIN_USER_SESSION_SECS,
};
