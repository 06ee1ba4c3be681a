//! Underpass command-line client: SigV4-signed calls to the control plane's API, credentials
//! from flags, environment variables or a profile file (as the AWS CLI does), tables by default
//! and `--output json`.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod args;
pub mod client;
pub mod output;
pub mod profile;
pub mod walkthrough;

pub use client::{service_of, Client, ClientError, Credentials};
