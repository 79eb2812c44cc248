//! The foundation layer: what every other layer may use, and which names nothing of the crate
//! above it — who the server is (`identity`), the closed sets of run policy (`policy`), the
//! agent-visible error contract (`envelope`), configuration, redaction, JSON-RPC, the one process
//! runner, atomic state files, private temporary areas, logging and small utilities.

pub(crate) mod cancel;
pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod envelope;
// Public for the isolation test, which fingerprints files as the copy does.
pub mod hash;
pub(crate) mod identity;
pub(crate) mod log;
pub(crate) mod policy;
pub(crate) mod process;
// Public for the secrets corpus test.
pub mod redact;
pub(crate) mod rpc;
pub(crate) mod scratch;
pub(crate) mod statefile;
pub(crate) mod sys;
pub(crate) mod text;
