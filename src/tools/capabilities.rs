//! `codex_capabilities`: the tool inventory, generated from the registry so it cannot drift from
//! `tools/list`.

use serde::Serialize;
use serde_json::{Value, json};

use super::params::Param;
use super::schema;
use super::{ALL, Call, Tool};
use crate::foundation::envelope::ErrorCode;
use crate::foundation::identity;
use crate::foundation::policy::Tier;

/// The `codex_capabilities` success envelope.
#[derive(Serialize)]
struct Capabilities {
    ok: bool,
    name: &'static str,
    version: &'static str,
    fingerprint: &'static str,
    transport: &'static str,
    protocol_versions: &'static [&'static str],
    tools: Vec<ToolEntry>,
    error_codes: &'static [ErrorCode],
    negative_scope: [&'static str; 4],
    prerequisites: [&'static str; 2],
}

/// One tool of the registry as the inventory lists it.
#[derive(Serialize)]
struct ToolEntry {
    name: &'static str,
    title: &'static str,
    cost: &'static str,
    tier: Tier,
    sandbox: &'static str,
    required_params: Vec<&'static str>,
    optional_params: Vec<&'static str>,
    error_codes: &'static [ErrorCode],
}

impl From<&'static Tool> for ToolEntry {
    fn from(tool: &'static Tool) -> Self {
        let (required, optional): (Vec<&Param>, Vec<&Param>) = tool.params.iter().partition(|p| p.required);
        ToolEntry {
            name: tool.name,
            title: tool.title,
            cost: tool.cost.as_str(),
            tier: tool.tier,
            sandbox: tool.tier.sandbox(),
            required_params: required.iter().map(|p| p.name).collect(),
            optional_params: optional.iter().map(|p| p.name).collect(),
            error_codes: tool.error_codes,
        }
    }
}

pub fn run(_call: &Call) -> Value {
    json!(inventory())
}

fn inventory() -> Capabilities {
    Capabilities {
        ok: true,
        name: identity::SERVER_NAME,
        version: identity::VERSION,
        fingerprint: super::fingerprint(),
        transport: "stdio",
        protocol_versions: identity::SUPPORTED_VERSIONS,
        tools: ALL.iter().map(ToolEntry::from).collect(),
        error_codes: ErrorCode::ALL,
        negative_scope: [
            "never edits your working tree: delegate returns a diff for you to review and apply",
            "never bypasses codex's sandbox or approvals (no danger-full-access, no --dangerously-* flags)",
            "delegate runs have no network access",
            "redaction of secrets is best effort",
        ],
        prerequisites: ["codex CLI on the server's PATH", "codex logged in (codex login) or a configured provider"],
    }
}

pub fn success_schema() -> Value {
    let names = [
        "name",
        "version",
        "fingerprint",
        "transport",
        "protocol_versions",
        "tools",
        "error_codes",
        "negative_scope",
        "prerequisites",
    ];
    schema::members(&names, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capabilities_envelope_matches_its_schema() {
        crate::tools::check_against_schema(&json!(inventory()), &success_schema());
    }
}
