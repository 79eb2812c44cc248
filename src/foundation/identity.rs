//! Who this server is: its name, version and the MCP protocol versions it speaks. Every layer may
//! name these; they depend on nothing.

/// This build's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The server's name, as MCP clients and `codex_capabilities` see it.
pub const SERVER_NAME: &str = "codex-in-claude";
/// The human title MCP clients may show.
pub const SERVER_TITLE: &str = "Codex for Claude Code";

/// Handshake-era protocol versions, preferred first (docs/mcp.md §1).
pub const LEGACY_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// Stateless-era protocol versions.
pub const MODERN_VERSIONS: &[&str] = &["2026-07-28"];
/// Everything this server speaks, newest first.
pub const SUPPORTED_VERSIONS: &[&str] = &["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_is_every_modern_then_every_legacy_version() {
        let both: Vec<&str> = MODERN_VERSIONS.iter().chain(LEGACY_VERSIONS).copied().collect();
        assert_eq!(SUPPORTED_VERSIONS, both.as_slice());
    }
}
