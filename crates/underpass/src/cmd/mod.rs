//! One module per subcommand.

pub(crate) mod agent;
pub(crate) mod call;
pub(crate) mod dev;
pub(crate) mod flowlogs;
pub(crate) mod server;
