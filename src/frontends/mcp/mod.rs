//! The MCP server: the main loop over stdin lines, method dispatch for both protocol eras, tool
//! calls on their own threads with a cancel token each, and the session's roots.
//!
//! Eras (docs/product.md §3, docs/mcp.md §1): a request whose `params._meta` names a protocol version
//! is served statelessly as 2026-07-28 (`resultType`, server identity in `_meta`, `ttlMs` and
//! `cacheScope` on cacheable results, `-32022` for an unknown version); anything else follows the
//! legacy `initialize` handshake. Both may be served on one connection.
//!
//! Invariant: every request gets exactly one response, except a `tools/call` the client
//! cancelled, which gets none. A call beyond `CODEX_IN_CLAUDE_MAX_CONCURRENT_CALLS`, or one the
//! system gives no thread, is answered at once with a retryable error and leaves nothing
//! registered; the loop itself never waits on a call, so `ping` and `notifications/cancelled`
//! are served while calls run.

mod roots;

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::foundation::cancel::CancelToken;
use crate::foundation::config::Config;
use crate::foundation::identity::{LEGACY_VERSIONS, MODERN_VERSIONS, SERVER_NAME, SERVER_TITLE, VERSION};
use crate::foundation::rpc::stdio::{self, Input, Outbox};
use crate::foundation::rpc::{self, Message, Notification, Reply, Request, RequestId, codes};
use crate::tools::{self, Context, NoRoots};
use roots::SessionRoots;

/// Longest accepted input line; longer ones are answered with an error and skipped.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// How long `tools/list` may be cached by a 2026 client: the surface only changes with the binary.
const TOOLS_TTL_MS: u64 = 3_600_000;
/// After stdin closes, how long in-flight calls may finish on their own before they are
/// abandoned (a paid run goes on as a job; free work stops).
const SHUTDOWN_SETTLE: Duration = Duration::from_secs(1);
/// After that, how long abandoned calls get to wind down (killing free children, answering).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// When a call refused because the server is at its limit may be tried again: tool calls take
/// seconds to minutes, so sooner would mostly be refused again.
const BUSY_RETRY_AFTER_MS: u64 = 5_000;
/// When a call the system gave no thread may be tried again (another process may have ended).
const NO_THREAD_RETRY_AFTER_MS: u64 = 1_000;

const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

const INSTRUCTIONS: &str = "codex-in-claude lets you ask OpenAI Codex for a second opinion (codex_consult), a structured code review (codex_review_changes) or a delegated change returned as a diff that is never applied for you (codex_delegate); the _async variants run in the background. Tools marked PAID send data to OpenAI; Free ones do not. Run codex_status first if a paid tool fails. Pass an absolute workspace_root. Treat everything Codex says as claims to verify.";

/// Serves MCP on the given streams until the input ends. Returns when every response that could
/// be sent has been written.
pub fn serve<R, W>(input: R, output: W, config: Config)
where
    R: std::io::Read + Send + 'static,
    W: std::io::Write + Send + 'static,
{
    let (to_main, from_reader) = mpsc::channel();
    stdio::spawn_reader(input, MAX_LINE_BYTES, to_main);
    let (outbox, writer) = stdio::spawn_writer(output);
    let mut server = Server {
        config: Arc::new(config),
        outbox,
        calls: Arc::new(InFlight::default()),
        roots: Arc::new(SessionRoots::default()),
        client_declares_roots: false,
        next_request_number: 0,
    };
    for input in from_reader {
        match input {
            Input::Line(line) => server.handle_line(&line),
            Input::Oversized { bytes, id } => {
                crate::log_warn!("skipped an input line of {bytes} bytes (limit {MAX_LINE_BYTES})");
                let message = format!("invalid request: line of {bytes} bytes exceeds the {MAX_LINE_BYTES}-byte limit");
                server.outbox.send(rpc::failure(id.as_ref(), codes::INVALID_REQUEST, &message, None));
            }
            Input::Eof => break,
        }
    }
    crate::log_info!("stdin closed; leaving in-flight calls (paid runs go on in their jobs) and exiting");
    server.calls.shutdown(SHUTDOWN_SETTLE, SHUTDOWN_GRACE);
    stdio::finish(server.outbox, writer, SHUTDOWN_GRACE);
}

struct Server {
    config: Arc<Config>,
    outbox: Outbox,
    calls: Arc<InFlight>,
    roots: Arc<SessionRoots>,
    client_declares_roots: bool,
    next_request_number: u64,
}

/// Which protocol era a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Era {
    Legacy,
    Modern,
}

impl Server {
    fn handle_line(&mut self, line: &[u8]) {
        match rpc::parse_line(line) {
            Ok(Message::Request(request)) => self.handle_request(request),
            Ok(Message::Notification(notification)) => self.handle_notification(notification),
            Ok(Message::Reply(reply)) => self.handle_reply(reply),
            Err(rejection) => {
                self.outbox.send(rpc::failure(rejection.id.as_ref(), rejection.code, &rejection.message, None));
            }
        }
    }

    fn handle_request(&mut self, request: Request) {
        let era = match era_of(&request) {
            Ok(era) => era,
            Err(response) => return self.outbox.send(response),
        };
        let reply =
            |server: &Server, result: Value| server.outbox.send(rpc::success(&request.id, decorate(result, era)));
        match request.method.as_str() {
            "initialize" => {
                let requested = request.params.get("protocolVersion").and_then(Value::as_str);
                let version = requested.filter(|v| LEGACY_VERSIONS.contains(v)).unwrap_or(LEGACY_VERSIONS[0]);
                self.client_declares_roots =
                    request.params.pointer("/capabilities/roots").is_some_and(Value::is_object);
                reply(
                    self,
                    json!({
                        "protocolVersion": version,
                        "capabilities": capabilities(),
                        "serverInfo": server_info(),
                        "instructions": INSTRUCTIONS,
                    }),
                );
            }
            "ping" => reply(self, json!({})),
            "server/discover" => reply(
                self,
                json!({
                    "supportedVersions": MODERN_VERSIONS,
                    "capabilities": capabilities(),
                    "instructions": INSTRUCTIONS,
                    "ttlMs": TOOLS_TTL_MS,
                    "cacheScope": "public",
                    "resultType": "complete",
                }),
            ),
            "tools/list" => {
                if request.params.get("cursor").is_some_and(|c| !c.is_null()) {
                    let error = rpc::failure(Some(&request.id), codes::INVALID_PARAMS, "invalid cursor", None);
                    return self.outbox.send(error);
                }
                let mut result = json!({"tools": tools::list()});
                if era == Era::Modern {
                    result["ttlMs"] = json!(TOOLS_TTL_MS);
                    result["cacheScope"] = json!("public");
                }
                reply(self, result);
            }
            "tools/call" => self.start_tool_call(request, era),
            _ => {
                let message = format!("method not found: {}", crate::foundation::text::one_line(&request.method, 100));
                self.outbox.send(rpc::failure(Some(&request.id), codes::METHOD_NOT_FOUND, &message, None));
            }
        }
    }

    fn start_tool_call(&mut self, request: Request, era: Era) {
        let name = request.params.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(tool) = tools::find(name) else {
            let message = format!("unknown tool: {}", crate::foundation::text::one_line(name, 100));
            return self.outbox.send(rpc::failure(Some(&request.id), codes::INVALID_PARAMS, &message, None));
        };
        let limit = self.config.max_concurrent_calls;
        let cancel = match self.calls.register(&request.id, limit) {
            Ok(cancel) => cancel,
            Err(Refused::IdInUse) => {
                let message = "invalid request: this id is already in use by an unfinished request";
                return self.outbox.send(rpc::failure(Some(&request.id), codes::INVALID_REQUEST, message, None));
            }
            Err(Refused::Busy) => {
                let message = format!(
                    "server busy: {limit} tool calls are already running, the most CODEX_IN_CLAUDE_MAX_CONCURRENT_CALLS allows; retry after one of them finishes"
                );
                return self.outbox.send(overloaded(&request.id, &message, BUSY_RETRY_AFTER_MS));
            }
        };
        let id = request.id.clone();
        let config = Arc::clone(&self.config);
        let roots = Arc::clone(&self.roots);
        let progress_token = request.params.get("_meta").and_then(|m| m.get("progressToken")).cloned();
        let progress = ProgressNotifier::new(self.outbox.clone(), progress_token);
        let calls = Arc::clone(&self.calls);
        let outbox = self.outbox.clone();
        let spawned = std::thread::Builder::new().name(format!("call-{}", tool.name)).spawn(move || {
            calls.answer(&request.id, &outbox, tool.name, || {
                let arguments = request.params.get("arguments");
                // Stateless requests may not rely on anything learned earlier on the connection.
                let envelope = match era {
                    Era::Modern => {
                        tools::call_tool(tool, arguments, &Context::new(&config, &NoRoots, &progress, cancel))
                    }
                    Era::Legacy => {
                        tools::call_tool(tool, arguments, &Context::new(&config, roots.as_ref(), &progress, cancel))
                    }
                };
                decorate(call_tool_result(envelope), era)
            });
        });
        // The closure (and the request it owns) is dropped unrun: the call is answered here and
        // its registration removed, or the id would stay "in use" and the client wait forever.
        if let Err(err) = spawned {
            crate::log_error!("cannot start a thread for {}: {err}", tool.name);
            let message = format!(
                "cannot start a thread for {}: {err} (the system's process or thread limit); nothing was run, retry later",
                tool.name
            );
            self.calls.finish(&id, || self.outbox.send(overloaded(&id, &message, NO_THREAD_RETRY_AFTER_MS)));
        }
    }

    fn handle_notification(&mut self, notification: Notification) {
        match notification.method.as_str() {
            "notifications/initialized" | "notifications/roots/list_changed" if self.client_declares_roots => {
                self.request_roots();
            }
            "notifications/cancelled" => {
                if let Some(id) = notification.params.get("requestId").and_then(RequestId::from_value) {
                    self.calls.cancel(&id);
                }
            }
            // Notifications never get a response, whether we know them or not.
            _ => {}
        }
    }

    fn handle_reply(&mut self, reply: Reply) {
        if self.roots.is_awaiting(&reply.id) {
            let uris = reply.result.as_ref().ok().and_then(|r| r.get("roots")).and_then(Value::as_array).map(|roots| {
                roots
                    .iter()
                    .filter_map(|r| r.get("uri").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            });
            if uris.is_none() {
                crate::log_warn!("the client's roots/list reply was an error or malformed; continuing without roots");
            }
            self.roots.settle(&reply.id, uris.unwrap_or_default());
        }
    }

    /// Asks the client for its roots; calls that need them wait for the reply (bounded).
    fn request_roots(&mut self) {
        self.next_request_number += 1;
        let id = RequestId::Text(format!("codex-in-claude-roots-{}", self.next_request_number));
        self.roots.expect(id.clone());
        self.outbox.send(rpc::request(&id, "roots/list", json!({})));
    }
}

/// Sends `notifications/progress` for one call that asked for it with a `progressToken`: at
/// most one a second, `progress` (codex events seen) strictly increasing, `message` saying what
/// codex is doing now.
struct ProgressNotifier {
    outbox: Outbox,
    token: Option<Value>,
    /// When the last notification went out, and the progress it carried.
    last: Mutex<(tools::Throttle, u64)>,
}

impl ProgressNotifier {
    fn new(outbox: Outbox, token: Option<Value>) -> ProgressNotifier {
        ProgressNotifier { outbox, token, last: Mutex::new((tools::Throttle::default(), 0)) }
    }
}

impl tools::Progress for ProgressNotifier {
    fn report(&self, events_seen: u64, activity: &str) {
        let Some(token) = &self.token else { return };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (throttle, sent_progress) = &mut *last;
        if events_seen <= *sent_progress || !throttle.ready() {
            return;
        }
        *sent_progress = events_seen;
        let params = json!({"progressToken": token, "progress": events_seen, "message": activity});
        self.outbox.send(rpc::notification("notifications/progress", params));
    }

    /// Sent even though no event arrived: progress must still increase, so a stall sits half
    /// way between this event count and the next.
    fn stalled(&self, events_seen: u64, message: &str) {
        let Some(token) = &self.token else { return };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.0.mark();
        last.1 = last.1.max(events_seen);
        #[allow(clippy::cast_precision_loss)] // event counts stay far below 2^52
        let progress = last.1 as f64 + 0.5;
        let params = json!({"progressToken": token, "progress": progress, "message": message});
        self.outbox.send(rpc::notification("notifications/progress", params));
    }
}

/// Decides the era of a request, or answers it with the error a 2026 client expects.
fn era_of(request: &Request) -> Result<Era, Value> {
    let meta = request.params.get("_meta");
    let Some(version) = meta.and_then(|m| m.get(VERSION_KEY)) else {
        // `server/discover` only exists in the 2026 era, with or without `_meta`.
        return Ok(if request.method == "server/discover" { Era::Modern } else { Era::Legacy });
    };
    let invalid = |message: &str| rpc::failure(Some(&request.id), codes::INVALID_PARAMS, message, None);
    let Some(version) = version.as_str() else {
        return Err(invalid("invalid params: _meta protocolVersion must be a string"));
    };
    if !MODERN_VERSIONS.contains(&version) {
        let data = json!({"supported": MODERN_VERSIONS, "requested": crate::foundation::text::one_line(version, 64)});
        let message = "unsupported protocol version";
        return Err(rpc::failure(Some(&request.id), codes::UNSUPPORTED_PROTOCOL_VERSION, message, Some(data)));
    }
    if !meta.and_then(|m| m.get(CAPABILITIES_KEY)).is_some_and(Value::is_object) {
        return Err(invalid("invalid params: _meta must carry clientCapabilities as an object"));
    }
    Ok(Era::Modern)
}

/// The answer to a call the server cannot take now: a JSON-RPC error, not a tool result
/// (docs/mcp.md §3), since MCP makes a failure of the server a protocol error and nothing of the
/// tool ran, so there is no envelope to give; `data` says that a retry may succeed, and when.
fn overloaded(id: &RequestId, message: &str, retry_after_ms: u64) -> Value {
    let data = json!({"retryable": true, "retry_after_ms": retry_after_ms});
    rpc::failure(Some(id), codes::INTERNAL_ERROR, message, Some(data))
}

/// 2026 results carry `resultType` and the server's identity; legacy results stay as they are.
fn decorate(mut result: Value, era: Era) -> Value {
    if era == Era::Modern {
        result["resultType"] = json!("complete");
        result["_meta"] = json!({ SERVER_INFO_KEY: server_info() });
    }
    result
}

fn capabilities() -> Value {
    json!({"tools": {"listChanged": false}})
}

fn server_info() -> Value {
    json!({"name": SERVER_NAME, "title": SERVER_TITLE, "version": VERSION})
}

/// The MCP `CallToolResult` for an envelope: the envelope as `structuredContent` (what Claude
/// Code hands the model), the same JSON as text for older clients, and `isError` iff `ok:false`.
fn call_tool_result(envelope: Value) -> Value {
    let is_error = envelope.get("ok") != Some(&Value::Bool(true));
    json!({
        "content": [{"type": "text", "text": envelope.to_string()}],
        "structuredContent": envelope,
        "isError": is_error,
    })
}

/// Tool calls in flight, by request id. The lock also orders "send the response" against
/// "cancel": a call the client cancelled before it finished sends nothing, one cancelled after is
/// unaffected. Calls abandoned because stdin closed still answer, in case the client reads on.
#[derive(Default)]
struct InFlight {
    calls: Mutex<HashMap<RequestId, Entry>>,
    idle: Condvar,
}

struct Entry {
    token: CancelToken,
    cancelled_by_client: bool,
}

/// Why a call was not registered.
#[derive(Debug, PartialEq)]
enum Refused {
    /// An unfinished request has this id.
    IdInUse,
    /// As many calls as allowed are running (a cancelled one counts until its thread ends).
    Busy,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, Entry>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A token for a new call, unless its id is taken by an unfinished one or `limit` calls run.
    fn register(&self, id: &RequestId, limit: usize) -> Result<CancelToken, Refused> {
        let mut calls = self.lock();
        if calls.contains_key(id) {
            return Err(Refused::IdInUse);
        }
        if calls.len() >= limit {
            return Err(Refused::Busy);
        }
        let token = CancelToken::new();
        calls.insert(id.clone(), Entry { token: token.clone(), cancelled_by_client: false });
        Ok(token)
    }

    /// `notifications/cancelled`: stop the work and send no response.
    fn cancel(&self, id: &RequestId) {
        if let Some(entry) = self.lock().get_mut(id) {
            entry.cancelled_by_client = true;
            entry.token.cancel();
        }
    }

    /// Removes the call and runs `respond` unless the client cancelled it.
    fn finish(&self, id: &RequestId, respond: impl FnOnce()) {
        let mut calls = self.lock();
        if calls.remove(id).is_some_and(|entry| !entry.cancelled_by_client) {
            respond();
        }
        self.idle.notify_all();
    }

    /// Runs a registered call's `work` and answers it with the result. `tools::call_tool` turns a
    /// tool's own panic into an envelope; a panic anywhere else in `work` (shaping the result)
    /// would end the thread with the call still registered, its id "in use" and its slot under
    /// the limit taken for good, and the client waiting forever: it is answered as an internal
    /// error instead.
    fn answer(&self, id: &RequestId, outbox: &Outbox, tool: &str, work: impl FnOnce() -> Value) {
        let response = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            Ok(result) => rpc::success(id, result),
            Err(_) => {
                crate::log_error!("the call of {tool} panicked; answered internal error");
                rpc::failure(Some(id), codes::INTERNAL_ERROR, &format!("{tool} failed unexpectedly"), None)
            }
        };
        self.finish(id, || outbox.send(response));
    }

    /// Stdin closed: calls that finish within `settle` answer normally (a quick `codex_status` is
    /// not cut short into a misleading report); the rest are abandoned and get `grace` to wind
    /// down: a paid run goes on in its job worker and keeps its result, anything else is stopped.
    fn shutdown(&self, settle: Duration, grace: Duration) {
        let mut calls = self.wait_idle(self.lock(), Instant::now() + settle);
        if calls.is_empty() {
            return;
        }
        calls.values().for_each(|entry| entry.token.abandon());
        calls = self.wait_idle(calls, Instant::now() + grace);
        if !calls.is_empty() {
            crate::log_warn!("{} call(s) still running at exit", calls.len());
        }
    }

    fn wait_idle<'a>(
        &'a self,
        mut calls: std::sync::MutexGuard<'a, HashMap<RequestId, Entry>>,
        deadline: Instant,
    ) -> std::sync::MutexGuard<'a, HashMap<RequestId, Entry>> {
        while !calls.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            calls = self.idle.wait_timeout(calls, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(params: Value) -> Request {
        Request { id: RequestId::Number(1), method: "tools/list".into(), params }
    }

    #[test]
    fn era_follows_meta_version() {
        assert_eq!(era_of(&request(json!({}))).unwrap(), Era::Legacy);
        let modern = json!({"_meta": {VERSION_KEY: "2026-07-28", CAPABILITIES_KEY: {}}});
        assert_eq!(era_of(&request(modern)).unwrap(), Era::Modern);
        let unknown =
            era_of(&request(json!({"_meta": {VERSION_KEY: "2099-01-01", CAPABILITIES_KEY: {}}}))).unwrap_err();
        assert_eq!(unknown["error"]["code"], json!(codes::UNSUPPORTED_PROTOCOL_VERSION));
        assert_eq!(unknown["error"]["data"]["supported"], json!(MODERN_VERSIONS));
        let no_caps = era_of(&request(json!({"_meta": {VERSION_KEY: "2026-07-28"}}))).unwrap_err();
        assert_eq!(no_caps["error"]["code"], json!(codes::INVALID_PARAMS));
    }

    #[test]
    fn is_error_follows_ok() {
        assert_eq!(call_tool_result(json!({"ok": true}))["isError"], json!(false));
        assert_eq!(call_tool_result(json!({"ok": false}))["isError"], json!(true));
    }

    #[test]
    fn a_cancelled_call_sends_nothing() {
        let calls = InFlight::default();
        let id = RequestId::Number(9);
        calls.register(&id, 8).unwrap();
        assert_eq!(calls.register(&id, 8).unwrap_err(), Refused::IdInUse, "duplicate id must be refused");
        calls.cancel(&id);
        calls.finish(&id, || panic!("must not respond"));
        assert!(calls.register(&id, 8).is_ok(), "id is free again");
    }

    #[test]
    fn a_call_that_panics_is_answered_and_frees_its_id_and_its_slot() {
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().write(bytes)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let written = Arc::new(Mutex::new(Vec::new()));
        let (outbox, writer) = stdio::spawn_writer(Shared(Arc::clone(&written)));
        let calls = Arc::new(InFlight::default());
        let id = RequestId::Number(4);
        calls.register(&id, 1).unwrap();
        let (thread_calls, thread_id, thread_outbox) = (Arc::clone(&calls), id.clone(), outbox.clone());
        let thread = std::thread::spawn(move || {
            thread_calls.answer(&thread_id, &thread_outbox, "codex_review", || panic!("shaping the result"))
        });
        assert!(thread.join().is_ok(), "the panic is caught in the call's thread");
        assert!(calls.register(&RequestId::Number(5), 1).is_ok(), "the slot is free again");
        assert!(calls.register(&id, 2).is_ok(), "the id is free again");
        stdio::finish(outbox, writer, Duration::from_secs(5));
        let answer: Value = serde_json::from_slice(&written.lock().unwrap()).unwrap();
        assert_eq!(answer["id"], json!(4));
        assert_eq!(answer["error"]["code"], json!(codes::INTERNAL_ERROR));
    }

    #[test]
    fn calls_beyond_the_limit_are_refused_until_one_finishes() {
        let calls = InFlight::default();
        let (one, two, three) = (RequestId::Number(1), RequestId::Text("2".into()), RequestId::Number(3));
        calls.register(&one, 2).unwrap();
        calls.register(&two, 2).unwrap();
        assert_eq!(calls.register(&three, 2).unwrap_err(), Refused::Busy);
        assert_eq!(calls.register(&one, 2).unwrap_err(), Refused::IdInUse, "a reused id is said as such");
        calls.cancel(&two);
        assert_eq!(calls.register(&three, 2).unwrap_err(), Refused::Busy, "a cancelled call runs until it ends");
        calls.finish(&two, || panic!("cancelled: no response"));
        assert!(calls.register(&three, 2).is_ok());
    }
}
