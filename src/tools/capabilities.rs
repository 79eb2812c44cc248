//! `codex_capabilities`: the tool inventory, generated from the registry so it cannot drift from
//! `tools/list`.

use serde_json::{Value, json};

use super::params::Param;
use super::{ALL, Call};
use crate::foundation::envelope::ErrorCode;
use crate::foundation::identity;

pub fn run(_call: &Call) -> Value {
    let tools: Vec<Value> = ALL
        .iter()
        .map(|tool| {
            let (required, optional): (Vec<&Param>, Vec<&Param>) = tool.params.iter().partition(|p| p.required);
            json!({
                "name": tool.name,
                "title": tool.title,
                "cost": tool.cost.as_str(),
                "tier": tool.tier,
                "sandbox": tool.tier.sandbox(),
                "required_params": required.iter().map(|p| p.name).collect::<Vec<_>>(),
                "optional_params": optional.iter().map(|p| p.name).collect::<Vec<_>>(),
                "error_codes": tool.error_codes,
            })
        })
        .collect();
    json!({
        "ok": true,
        "name": identity::SERVER_NAME,
        "version": identity::VERSION,
        "fingerprint": super::fingerprint(),
        "transport": "stdio",
        "protocol_versions": identity::SUPPORTED_VERSIONS,
        "tools": tools,
        "error_codes": ErrorCode::ALL,
        "negative_scope": [
            "never edits your working tree: delegate returns a diff for you to review and apply",
            "never bypasses codex's sandbox or approvals (no danger-full-access, no --dangerously-* flags)",
            "delegate runs have no network access",
            "redaction of secrets is best effort"
        ],
        "prerequisites": ["codex CLI on the server's PATH", "codex logged in (codex login) or a configured provider"],
    })
}

pub fn success_schema() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "type": "object",
        "required": ["ok", "name", "version", "fingerprint", "tools", "error_codes"],
        "properties": {
            "ok": {"const": true},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "fingerprint": {"type": "string"},
            "transport": {"type": "string"},
            "protocol_versions": strings,
            "tools": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "cost", "error_codes"],
                    "properties": {
                        "name": {"type": "string"},
                        "title": {"type": "string"},
                        "cost": {"enum": ["paid", "free"]},
                        "tier": {"type": "string"},
                        "sandbox": {"type": "string"},
                        "required_params": strings,
                        "optional_params": strings,
                        "error_codes": strings
                    }
                }
            },
            "error_codes": strings,
            "negative_scope": strings,
            "prerequisites": strings
        }
    })
}
