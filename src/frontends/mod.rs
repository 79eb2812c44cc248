//! The front ends, side by side, each turning its input into tool calls: `mcp` (the MCP server
//! on stdio), `cli` (the command line), `setup` (the first-run checklist of the command line),
//! `review_gate` (the plugin's Stop hook) and `worker` (the detached background-job worker). None calls another; they meet only in the
//! tools below them.

// Public for main.rs.
pub mod cli;
pub(crate) mod mcp;
pub(crate) mod review_gate;
pub(crate) mod setup;
pub(crate) mod worker;
