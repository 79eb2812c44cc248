//! The front ends, side by side, each turning its input into tool calls: `mcp` (the MCP server
//! on stdio), `cli` (the command line), `setup` (the first-run checklist of the command line),
//! `sarif` (the command line's SARIF rendering of a review), `review_gate` (the plugin's Stop
//! hook) and `worker` (the detached background-job worker). None calls another; they meet only
//! in the tools below them.

// Public for main.rs.
pub mod cli;
pub(crate) mod mcp;
pub(crate) mod review_gate;
// Public: the command line's public `Mode` carries its `FailOn`.
pub mod sarif;
pub(crate) mod setup;
pub(crate) mod worker;
