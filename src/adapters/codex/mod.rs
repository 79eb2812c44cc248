//! Everything this server assumes about the `codex` CLI (`docs/codex-cli.md`): the probe of an
//! installed codex, one `codex exec` run, its event stream, why a run failed, parsing its answer,
//! `prompts`, what it is asked, `app_server`, its rate limits and model list, and `environment`,
//! what codex and the commands it runs may see of the server's environment.

pub mod answer;
pub(crate) mod app_server;
pub mod environment;
pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod failure;
pub(crate) mod probe;
pub mod prompts;

/// The binary looked up on PATH.
pub const PROGRAM: &str = "codex";
