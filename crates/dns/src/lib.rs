//! Underpass DNS: the resolver each VPC's agent serves (endpoint names, verified private DNS
//! names, everything else forwarded), and the TXT verification of private DNS names. The
//! answering logic is pure ([`answer::answer`] over a [`ZoneSet`]); sockets live in
//! [`server`], [`client`] and [`authority`]. It must never panic on a packet, never forward a
//! name of its own zones, and never answer a client outside its VPC.
//!
//! The wire format is hickory-proto's. The transport is ours rather than hickory-server's
//! `Server`, because the resolver needs limits that one does not have (per-source TCP
//! connections, bounded forwarding, the 1232-byte UDP cap); hickory-server's catalog and
//! in-memory zones serve the small authoritative zones of dev mode and tests
//! ([`authority::StaticAuthority`]).
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod answer;
pub mod authority;
pub mod client;
pub mod server;
pub mod verify;
pub mod wire;
pub mod zone;

#[cfg(test)]
mod tests;

pub use answer::{answer, handle, relay, Answer, Handled};
pub use authority::StaticAuthority;
pub use server::{DnsServer, DnsServerConfig};
pub use verify::{check_txt, TxtCheck};
pub use wire::{Query, Reply, Transport};
pub use zone::{ZoneSet, TTL};
