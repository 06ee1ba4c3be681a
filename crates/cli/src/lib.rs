//! Underpass command-line client: SigV4-signed calls to the control plane's API, credentials
//! from the environment or a profile file, tables and `--output json`.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod client;

pub use client::{service_of, Client, ClientError, Credentials};
