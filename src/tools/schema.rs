//! The output schemas `tools/list` publishes. `tools/list` is read into every conversation, so
//! an output schema names an envelope's top-level members and gives the values only of the
//! enums that are the contract (a review's verdict, a job's status); what each member holds is
//! documented in the README. Only `ok` is required, and in an `error` its `code` and
//! `message`: a member that is empty, null or default may be left out of an
//! envelope, and the schema stays true of every envelope a tool returns.

use serde_json::{Map, Value, json};

use crate::foundation::envelope::error_schema;

/// The `properties` of an `ok:true` envelope, `ok` and `meta` aside: the members in `names`, any
/// value allowed, and those in `enums`, each with the values it takes.
pub fn members(names: &[&str], enums: &[(&str, &[&str])]) -> Value {
    let any = names.iter().map(|name| (name.to_string(), json!({})));
    let closed = enums.iter().map(|(name, values)| (name.to_string(), json!({"enum": values})));
    Value::Object(any.chain(closed).collect::<Map<String, Value>>())
}

/// A tool's `outputSchema`: `ok`, `meta` and `error` (`error_schema`) beside its success members
/// (see `members`). `ok` tells the two kinds of envelope apart; a branch per kind would cost
/// over a kilobyte of `tools/list`.
pub fn output(success: Value) -> Value {
    let mut properties = json!({"ok": {"type": "boolean"}, "error": error_schema(), "meta": {"type": "object"}});
    if let (Some(properties), Value::Object(success)) = (properties.as_object_mut(), success) {
        properties.extend(success);
    }
    json!({"type": "object", "required": ["ok"], "properties": properties})
}
