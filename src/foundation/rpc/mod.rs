//! JSON-RPC 2.0 as MCP uses it over stdio: message classification, ids, error codes and the
//! shapes of responses. Knows nothing of MCP methods or tools.
//!
//! Input is classified from a `serde_json::Value` rather than an untagged enum so that every
//! kind of bad input gets its precise error (`-32700` vs `-32600`) and the right id; a line that
//! does not parse at all still gets its id when `recover` can read it from the raw bytes.

pub mod recover;
pub mod stdio;

use serde_json::{Map, Value, json};

/// Standard and MCP-reserved error codes this server emits.
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// MCP 2026-07-28 `UnsupportedProtocolVersionError`.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
}

/// A request id: MCP allows a string or an integer, never null.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    Number(i64),
    Text(String),
}

impl RequestId {
    pub fn from_value(value: &Value) -> Option<RequestId> {
        match value {
            Value::String(s) => Some(RequestId::Text(s.clone())),
            Value::Number(n) => n.as_i64().map(RequestId::Number),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            RequestId::Number(n) => json!(n),
            RequestId::Text(s) => json!(s),
        }
    }
}

#[derive(Debug)]
pub struct Request {
    pub id: RequestId,
    pub method: String,
    /// `params`, or an empty object when absent or null.
    pub params: Value,
}

#[derive(Debug)]
pub struct Notification {
    pub method: String,
    pub params: Value,
}

/// A reply from the client to a request this server sent (e.g. `roots/list`).
#[derive(Debug)]
pub struct Reply {
    pub id: RequestId,
    pub result: Result<Value, Value>,
}

#[derive(Debug)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Reply(Reply),
}

/// An error to send back instead of handling a line: `id` is `None` when it could not be read.
#[derive(Debug, PartialEq)]
pub struct Rejection {
    pub id: Option<RequestId>,
    pub code: i64,
    pub message: String,
}

/// Classifies one input line.
pub fn parse_line(line: &[u8]) -> Result<Message, Rejection> {
    classify(object_of(line)?)
}

/// Classifies one line from a peer that leaves out `"jsonrpc": "2.0"`, as `codex app-server`
/// does (docs/codex-cli.md §6); everything else is checked as strictly as `parse_line` does.
pub fn parse_peer_line(line: &[u8]) -> Result<Message, Rejection> {
    let mut object = object_of(line)?;
    object.entry("jsonrpc").or_insert_with(|| json!("2.0"));
    classify(object)
}

fn object_of(line: &[u8]) -> Result<Map<String, Value>, Rejection> {
    let value: Value = serde_json::from_slice(line).map_err(|err| Rejection {
        id: recover::id_of(line),
        code: codes::PARSE_ERROR,
        message: format!("parse error: {err}"),
    })?;
    let Value::Object(object) = value else {
        let what = if value.is_array() { "batches are not supported" } else { "not a JSON object" };
        return Err(Rejection { id: None, code: codes::INVALID_REQUEST, message: format!("invalid request: {what}") });
    };
    Ok(object)
}

fn classify(mut object: Map<String, Value>) -> Result<Message, Rejection> {
    let raw_id = object.remove("id");
    let id = raw_id.as_ref().and_then(RequestId::from_value);
    let invalid = |id: Option<RequestId>, why: &str| Rejection {
        id,
        code: codes::INVALID_REQUEST,
        message: format!("invalid request: {why}"),
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(invalid(id, "jsonrpc must be \"2.0\""));
    }
    if raw_id.is_some() && id.is_none() {
        return Err(invalid(None, "id must be a string or an integer"));
    }
    let params = match object.remove("params") {
        None | Some(Value::Null) => json!({}),
        Some(p @ (Value::Object(_) | Value::Array(_))) => p,
        Some(_) => return Err(invalid(id, "params must be an object or an array")),
    };
    match (object.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Ok(Message::Request(Request { id, method, params })),
        (Some(Value::String(method)), None) => Ok(Message::Notification(Notification { method, params })),
        (Some(_), id) => Err(invalid(id, "method must be a string")),
        (None, Some(id)) => {
            if let Some(result) = object.remove("result") {
                Ok(Message::Reply(Reply { id, result: Ok(result) }))
            } else if let Some(error) = object.remove("error") {
                Ok(Message::Reply(Reply { id, result: Err(error) }))
            } else {
                Err(invalid(Some(id), "no method, result or error"))
            }
        }
        (None, None) => Err(invalid(None, "no method")),
    }
}

pub fn success(id: &RequestId, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result})
}

pub fn failure(id: Option<&RequestId>, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({"jsonrpc": "2.0", "id": id.map_or(Value::Null, RequestId::to_value), "error": error})
}

pub fn request(id: &RequestId, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id.to_value(), "method": method, "params": params})
}

pub fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(line: &str) -> Rejection {
        parse_line(line.as_bytes()).unwrap_err()
    }

    #[test]
    fn classifies_requests_notifications_and_replies() {
        assert!(matches!(
            parse_line(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#),
            Ok(Message::Request(Request { id: RequestId::Text(_), .. }))
        ));
        assert!(matches!(
            parse_line(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Notification(_))
        ));
        assert!(matches!(
            parse_line(br#"{"jsonrpc":"2.0","id":7,"result":{"roots":[]}}"#),
            Ok(Message::Reply(Reply { id: RequestId::Number(7), result: Ok(_) }))
        ));
    }

    #[test]
    fn bad_input_gets_the_precise_code() {
        assert_eq!(rejection("{nope").code, codes::PARSE_ERROR);
        let lone_surrogate = rejection(r#"{"jsonrpc":"2.0","id":5,"method":"x","params":{"q":"\udc00"}}"#);
        assert_eq!((lone_surrogate.code, lone_surrogate.id), (codes::PARSE_ERROR, Some(RequestId::Number(5))));
        assert_eq!(rejection("[]").code, codes::INVALID_REQUEST);
        assert_eq!(rejection("42").code, codes::INVALID_REQUEST);
        assert_eq!(rejection(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#).id, None);
        let wrong_version = rejection(r#"{"jsonrpc":"1.0","id":3,"method":"x"}"#);
        assert_eq!((wrong_version.code, wrong_version.id), (codes::INVALID_REQUEST, Some(RequestId::Number(3))));
        assert_eq!(rejection(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":5}"#).code, codes::INVALID_REQUEST);
        assert_eq!(rejection(r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#).code, codes::INVALID_REQUEST);
    }

    #[test]
    fn a_peer_may_leave_out_the_version_but_nothing_else() {
        assert!(matches!(parse_peer_line(br#"{"id":2,"result":{}}"#), Ok(Message::Reply(_))));
        assert!(matches!(parse_peer_line(br#"{"id":"s1","method":"x/y"}"#), Ok(Message::Request(_))));
        assert_eq!(
            parse_peer_line(br#"{"jsonrpc":"1.0","id":1,"result":{}}"#).unwrap_err().code,
            codes::INVALID_REQUEST
        );
        assert_eq!(parse_line(br#"{"id":2,"result":{}}"#).unwrap_err().code, codes::INVALID_REQUEST);
    }

    #[test]
    fn failure_with_unknown_id_serialises_null() {
        assert_eq!(failure(None, codes::PARSE_ERROR, "x", None)["id"], Value::Null);
    }
}
