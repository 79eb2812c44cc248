//! A scripted mock of the OpenAI Responses API on 127.0.0.1, for running the real codex CLI
//! offline.
//!
//! This module owns the HTTP side of the end-to-end harness: a listener on an ephemeral loopback
//! port, a script of [`Step`]s (one per `POST /v1/responses`, consumed in arrival order), the SSE
//! event shapes codex 0.169.0 understands (see docs/codex-cli.md §4), and a record of every
//! request so tests can inspect what codex sent, including proving that secrets never reached the
//! model.
//!
//! Only std and serde_json: one accept thread plus one thread per connection. Every response is
//! `Connection: close`, so each request arrives on its own connection and the end of the body is
//! simply the end of the stream.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Token counts reported in every `response.completed` the mock sends. Codex sums them per turn
/// (two requests give twice these numbers in `turn.completed.usage`).
pub const USAGE_INPUT_TOKENS: u64 = 120;
pub const USAGE_CACHED_INPUT_TOKENS: u64 = 20;
pub const USAGE_OUTPUT_TOKENS: u64 = 30;
pub const USAGE_REASONING_OUTPUT_TOKENS: u64 = 5;
pub const USAGE_TOTAL_TOKENS: u64 = 150;

/// The response id used in every event; codex's requests are stateless (`store:false`, no
/// `previous_response_id`), so nothing depends on it being unique.
const RESPONSE_ID: &str = "resp_mock";

/// How often blocked connection threads look at the shutdown flag; bounds how long `Drop` waits.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A client that connects and then stalls must not pin a thread forever.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Guards against a runaway client; codex's largest requests are a few hundred KiB.
const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What the mock does with one `POST /v1/responses`.
#[derive(Debug, Clone)]
pub enum Step {
    /// A plain assistant message, then `response.completed` with the standard usage block.
    Message(String),
    /// Raw SSE events, sent one by one in order; build them with [`output_item_done`],
    /// [`message_item`], [`reasoning_item`], [`response_completed`] and friends.
    Events(Vec<Value>),
    /// A `function_call` to codex's `exec_command` tool; codex runs it and sends a follow-up
    /// request carrying the output, which gets the next step.
    Shell { cmd: String },
    /// A freeform `apply_patch` custom tool call (`*** Begin Patch` … `*** End Patch`).
    ApplyPatch { patch: String },
    /// A plain HTTP error response with this status and body (JSON content type when the body
    /// parses as JSON).
    HttpError { status: u16, body: String },
    /// HTTP 200, then `response.failed` carrying this error code and message.
    Failed { code: String, message: String },
    /// `response.created`, then the connection is closed without `response.completed`.
    DropStream,
    /// `response.created`, then silence until the client hangs up or the mock is dropped.
    Hang,
    /// Wait, then serve the inner step.
    Delay(Duration, Box<Step>),
}

impl Step {
    /// A reasoning summary item followed by an assistant message, in one response.
    pub fn reasoning_then_message(reasoning: &str, message: &str) -> Step {
        Step::Events(vec![
            response_created(),
            output_item_done(reasoning_item(reasoning)),
            output_item_done(message_item(message)),
            response_completed(),
        ])
    }

    /// `Step::Message` from anything string-like, to keep scripts short.
    pub fn message(text: impl Into<String>) -> Step {
        Step::Message(text.into())
    }

    /// `Step::Shell` from anything string-like.
    pub fn shell(cmd: impl Into<String>) -> Step {
        Step::Shell { cmd: cmd.into() }
    }

    /// `Step::ApplyPatch` from anything string-like.
    pub fn apply_patch(patch: impl Into<String>) -> Step {
        Step::ApplyPatch { patch: patch.into() }
    }

    /// `Step::HttpError` with an OpenAI-style JSON error body.
    pub fn http_error(status: u16, message: &str) -> Step {
        Step::HttpError {
            status,
            body: json!({"error": {"message": message, "type": "mock_error", "code": null}}).to_string(),
        }
    }

    /// `Step::Failed` from anything string-like.
    pub fn failed(code: impl Into<String>, message: impl Into<String>) -> Step {
        Step::Failed { code: code.into(), message: message.into() }
    }

    /// Serve `self` after `delay`.
    pub fn delayed(self, delay: Duration) -> Step {
        Step::Delay(delay, Box::new(self))
    }
}

/// A consult answer in the shape of codex-in-claude's consult output schema, with `summary`.
pub fn consult_answer(summary: &str) -> String {
    json!({
        "summary": summary,
        "findings": [{
            "severity": "medium", "title": "Unchecked unwrap", "file": "src/lib.rs", "line": 7, "line_end": null,
            "evidence": "x.unwrap()", "risk": "panics on bad input", "recommendation": "return an error"
        }],
        "questions": ["Is the input trusted?"],
        "assumptions": [],
        "next_steps": ["Add a test"]
    })
    .to_string()
}

/// `response.created`; optional for codex, but it is what a real stream starts with and what
/// the failure steps send before misbehaving.
pub fn response_created() -> Value {
    json!({"type": "response.created", "response": {"id": RESPONSE_ID}})
}

/// Wraps a finished output item. Codex only turns an item into a JSONL event when it sees this
/// (deltas alone produce no `agent_message`).
pub fn output_item_done(item: Value) -> Value {
    json!({"type": "response.output_item.done", "item": item})
}

/// An assistant message item; becomes an `agent_message` item in codex's JSONL.
pub fn message_item(text: &str) -> Value {
    json!({
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    })
}

/// A reasoning item with one summary part; becomes a `reasoning` item in codex's JSONL.
pub fn reasoning_item(summary: &str) -> Value {
    json!({
        "type": "reasoning",
        "id": "rs_mock",
        "summary": [{"type": "summary_text", "text": summary}],
    })
}

/// A `function_call` item; `arguments` is the JSON object codex's tool expects.
pub fn function_call_item(call_id: &str, name: &str, arguments: &Value) -> Value {
    json!({
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments.to_string(),
    })
}

/// A `custom_tool_call` item (freeform tools such as `apply_patch`).
pub fn custom_tool_call_item(call_id: &str, name: &str, input: &str) -> Value {
    json!({
        "type": "custom_tool_call",
        "call_id": call_id,
        "name": name,
        "input": input,
    })
}

/// `response.completed` with the standard usage block (see the `USAGE_*` constants).
pub fn response_completed() -> Value {
    json!({
        "type": "response.completed",
        "response": {
            "id": RESPONSE_ID,
            "usage": {
                "input_tokens": USAGE_INPUT_TOKENS,
                "input_tokens_details": {"cached_tokens": USAGE_CACHED_INPUT_TOKENS},
                "output_tokens": USAGE_OUTPUT_TOKENS,
                "output_tokens_details": {"reasoning_tokens": USAGE_REASONING_OUTPUT_TOKENS},
                "total_tokens": USAGE_TOTAL_TOKENS,
            },
        },
    })
}

/// `response.failed` with an error code such as `rate_limit_exceeded` or `server_error`; the
/// code decides codex's retry policy and final message (docs/codex-cli.md §4).
pub fn response_failed(code: &str, message: &str) -> Value {
    json!({
        "type": "response.failed",
        "response": {
            "id": RESPONSE_ID,
            "status": "failed",
            "error": {"code": code, "message": message},
        },
    })
}

/// One HTTP request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names lowercased; repeated headers are joined with `", "`.
    pub headers: BTreeMap<String, String>,
    /// The body as (lossy) UTF-8, after undoing chunked transfer encoding.
    pub body: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    /// False when no scripted step answered it: the script ran out or the route was unknown.
    pub scripted: bool,
}

impl RecordedRequest {
    /// A header by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// The running mock. Dropping it stops the accept loop, closes every open connection (including
/// `Hang` ones) and joins all threads.
pub struct MockModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

struct Shared {
    shutdown: AtomicBool,
    state: Mutex<State>,
    /// Signalled whenever a request is recorded.
    request_arrived: Condvar,
    /// Clones of live connections by id, so `Drop` can unblock threads stuck in a read.
    open_streams: Mutex<OpenStreams>,
}

#[derive(Default)]
struct OpenStreams {
    next_id: u64,
    by_id: HashMap<u64, TcpStream>,
}

/// Keeps a connection in [`Shared::open_streams`] while its thread runs.
struct OpenStreamGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for OpenStreamGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock_streams().by_id.remove(&self.id);
    }
}

struct State {
    steps: VecDeque<Step>,
    requests: Vec<RecordedRequest>,
}

impl MockModel {
    /// Starts the mock on `127.0.0.1:0`; each `POST /v1/responses` consumes the next step.
    pub fn start(steps: Vec<Step>) -> MockModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind mock model on 127.0.0.1");
        let addr = listener.local_addr().expect("mock model local address");
        let shared = Arc::new(Shared {
            shutdown: AtomicBool::new(false),
            state: Mutex::new(State { steps: steps.into(), requests: Vec::new() }),
            request_arrived: Condvar::new(),
            open_streams: Mutex::new(OpenStreams::default()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("mock-model-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("spawn mock model accept thread");
        MockModel { addr, shared, accept_thread: Some(accept_thread) }
    }

    /// The provider `base_url` for codex, which POSTs to `{base_url}/responses`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock_state().requests.clone()
    }

    /// All request bodies joined by newlines; grep it to prove what did or did not reach the
    /// model.
    pub fn request_log_text(&self) -> String {
        let state = self.shared.lock_state();
        let bodies: Vec<&str> = state.requests.iter().map(|r| r.body.as_str()).collect();
        bodies.join("\n")
    }

    /// How many scripted steps have not been consumed yet.
    pub fn remaining_steps(&self) -> usize {
        self.shared.lock_state().steps.len()
    }

    /// Requests that no scripted step answered (they got HTTP 500 or 404).
    pub fn unscripted_requests(&self) -> Vec<RecordedRequest> {
        let state = self.shared.lock_state();
        state.requests.iter().filter(|r| !r.scripted).cloned().collect()
    }

    /// Blocks until at least `count` requests have arrived or `timeout` passes; returns whether
    /// they arrived. Useful to act (e.g. cancel) while a `Hang` step holds a request open.
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock_state();
        while state.requests.len() < count {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .request_arrived
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        true
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        {
            // Set the flag under the streams lock so a connection registering concurrently
            // either sees the flag or is in the list we shut down below.
            let mut streams = self.shared.lock_streams();
            self.shared.shutdown.store(true, Ordering::SeqCst);
            for (_, stream) in streams.by_id.drain() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        // `accept` blocks; a throwaway connection wakes it so it can see the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// A panicking connection thread must not take every later assertion down with it.
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_streams(&self) -> MutexGuard<'_, OpenStreams> {
        self.open_streams.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection for shutdown on drop until the guard goes away; `None` when the
    /// mock is already stopping.
    fn register_stream(&self, stream: &TcpStream) -> Option<OpenStreamGuard<'_>> {
        let mut streams = self.lock_streams();
        if self.is_shutting_down() {
            return None;
        }
        let clone = stream.try_clone().ok()?;
        let id = streams.next_id;
        streams.next_id += 1;
        streams.by_id.insert(id, clone);
        Some(OpenStreamGuard { shared: self, id })
    }

    /// Records the request and picks its step atomically, so steps follow arrival order.
    fn record_and_take_step(&self, mut request: RecordedRequest) -> (usize, Option<Step>) {
        let mut state = self.lock_state();
        let step = if is_model_call(&request) { state.steps.pop_front() } else { None };
        request.scripted = step.is_some();
        state.requests.push(request);
        let index = state.requests.len();
        drop(state);
        self.request_arrived.notify_all();
        (index, step)
    }

    /// Sleeps for `duration` in short slices; false if the mock started shutting down.
    fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        while !self.is_shutting_down() {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            thread::sleep(POLL_INTERVAL.min(deadline - now));
        }
        false
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if shared.is_shutting_down() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let connection_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("mock-model-conn".into())
            .spawn(move || handle_connection(stream, &connection_shared));
        if let Ok(handle) = spawned {
            connections.push(handle);
        }
        connections.retain(|handle| !handle.is_finished());
    }
    // Every connection thread polls the shutdown flag or has had its socket shut down, so
    // these joins are bounded.
    for handle in connections {
        let _ = handle.join();
    }
}

fn handle_connection(stream: TcpStream, shared: &Shared) {
    let Some(_registration) = shared.register_stream(&stream) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(REQUEST_READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_READ_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    let request = match read_request(&mut reader) {
        Ok(request) => request,
        Err(e) => {
            // Best effort: a malformed request is a harness bug worth a readable answer.
            let message = format!("mock model: {e}");
            let body = json!({"error": {"message": message, "type": "mock_bad_request"}});
            let _ = write_plain_response(reader.get_mut(), 400, &body.to_string());
            return;
        }
    };
    let mut stream = reader.into_inner();
    let model_call = is_model_call(&request);
    let route = format!("{} {}", request.method, request.path);
    let (index, step) = shared.record_and_take_step(request);
    let result = match step {
        Some(step) => serve_step(&mut stream, shared, step, index),
        // A test notices this: codex reports a failed turn, and the request is recorded as
        // unscripted.
        None if model_call => {
            let message = format!("mock model: no scripted step left for request #{index}");
            let body = json!({"error": {"message": message, "type": "mock_script_exhausted"}});
            write_plain_response(&mut stream, 500, &body.to_string())
        }
        None => {
            let message = format!("mock model: no route for {route}");
            let body = json!({"error": {"message": message, "type": "mock_not_found"}});
            write_plain_response(&mut stream, 404, &body.to_string())
        }
    };
    // Errors mean the client went away, which is the client's business (e.g. codex timed out).
    let _ = result;
    // Half-close first so the client sees a clean end of stream rather than a reset.
    let _ = stream.shutdown(Shutdown::Write);
}

/// Only `POST …/responses` consumes steps; anything else is unexpected traffic from codex.
fn is_model_call(request: &RecordedRequest) -> bool {
    request.method == "POST" && request.path.ends_with("/responses")
}

/// Serves one step. `index` is the 1-based request number, used for unique tool call ids.
fn serve_step(stream: &mut TcpStream, shared: &Shared, step: Step, index: usize) -> io::Result<()> {
    match step {
        Step::Message(text) => write_sse(stream, &single_item_response(message_item(&text))),
        Step::Events(events) => write_sse(stream, &events),
        Step::Shell { cmd } => {
            let arguments = json!({"cmd": cmd, "login": false});
            let call = function_call_item(&format!("call_{index}"), "exec_command", &arguments);
            write_sse(stream, &single_item_response(call))
        }
        Step::ApplyPatch { patch } => {
            let call = custom_tool_call_item(&format!("call_{index}"), "apply_patch", &patch);
            write_sse(stream, &single_item_response(call))
        }
        Step::HttpError { status, body } => write_plain_response(stream, status, &body),
        Step::Failed { code, message } => write_sse(stream, &[response_created(), response_failed(&code, &message)]),
        Step::DropStream => {
            write_sse(stream, &[response_created()])?;
            stream.shutdown(Shutdown::Both)
        }
        Step::Hang => {
            write_sse(stream, &[response_created()])?;
            wait_for_peer_close_or_shutdown(stream, shared);
            Ok(())
        }
        Step::Delay(delay, inner) => {
            if shared.sleep(delay) {
                serve_step(stream, shared, *inner, index)
            } else {
                Ok(())
            }
        }
    }
}

/// Holds a connection open without sending anything. Returns when the client closes its end
/// (codex gave up) or the mock is dropped, so hung connections never outlive a test.
fn wait_for_peer_close_or_shutdown(stream: &mut TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(POLL_INTERVAL));
    let mut scratch = [0u8; 512];
    while !shared.is_shutting_down() {
        match stream.read(&mut scratch) {
            // The request was read completely, so any end of stream is the client hanging up.
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_transient(&e) => {}
            Err(_) => return,
        }
    }
}

/// Read-timeout expiries (reported as either kind, depending on the platform) and signals.
fn is_transient(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// A complete successful response carrying one output item.
fn single_item_response(item: Value) -> [Value; 3] {
    [response_created(), output_item_done(item), response_completed()]
}

/// Sends the SSE response head, then each event as its own flushed `data:` frame.
fn write_sse(stream: &mut TcpStream, events: &[Value]) -> io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\n\
          Content-Type: text/event-stream\r\n\
          Cache-Control: no-cache\r\n\
          Connection: close\r\n\r\n",
    )?;
    stream.flush()?;
    for event in events {
        stream.write_all(format!("data: {event}\n\n").as_bytes())?;
        stream.flush()?;
    }
    Ok(())
}

fn write_plain_response(stream: &mut TcpStream, status: u16, body: &str) -> io::Result<()> {
    let content_type =
        if serde_json::from_str::<Value>(body).is_ok() { "application/json" } else { "text/plain; charset=utf-8" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {length}\r\n\
         Connection: close\r\n\r\n",
        reason = reason_phrase(status),
        length = body.len(),
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Mock Status",
    }
}

/// Reads one HTTP/1.1 request: request line, headers, then a `Content-Length` or chunked body.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<RecordedRequest> {
    let request_line = read_crlf_line(reader)?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid_data(format!("bad request line {request_line:?}")));
    };
    let (method, path) = (method.to_string(), path.to_string());

    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut header_bytes = request_line.len();
    loop {
        let line = read_crlf_line(reader)?;
        if line.is_empty() {
            break;
        }
        header_bytes += line.len();
        if header_bytes > MAX_HEADER_BYTES {
            return Err(invalid_data("request headers too large".into()));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid_data(format!("bad header line {line:?}")));
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
        headers
            .entry(name)
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }

    let header_has =
        |name: &str, needle: &str| headers.get(name).is_some_and(|v| v.to_ascii_lowercase().contains(needle));
    if header_has("expect", "100-continue") {
        let stream = reader.get_mut();
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        stream.flush()?;
    }
    let body = if header_has("transfer-encoding", "chunked") {
        read_chunked_body(reader)?
    } else {
        let length = match headers.get("content-length") {
            Some(value) => value.parse::<usize>().map_err(|_| invalid_data(format!("bad content-length {value:?}")))?,
            None => 0,
        };
        if length > MAX_BODY_BYTES {
            return Err(invalid_data("request body too large".into()));
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        body
    };

    let body = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_str(&body).ok();
    Ok(RecordedRequest { method, path, headers, body, json, scripted: false })
}

fn read_chunked_body(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_crlf_line(reader)?;
        // Chunk extensions (`;name=value`) are allowed after the size and carry nothing we need.
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| invalid_data(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Skip optional trailers up to the blank line that ends the message.
            while !read_crlf_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(invalid_data("request body too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_crlf_line(reader)?.is_empty() {
            return Err(invalid_data("chunk not followed by CRLF".into()));
        }
    }
}

/// One line without its `\r\n` (or bare `\n`); end of stream before a newline is an error.
fn read_crlf_line(reader: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut line = Vec::new();
    let read = reader.by_ref().take(MAX_HEADER_BYTES as u64).read_until(b'\n', &mut line)?;
    if read == 0 || line.last() != Some(&b'\n') {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-request"));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid_data("non-UTF-8 request line".into()))
}

fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The mock's own HTTP handling, exercised with a raw socket client (no codex needed).
#[cfg(test)]
mod tests {
    use super::*;

    /// Sends raw request bytes on a fresh connection and returns everything the mock answers.
    fn exchange(mock: &MockModel, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(mock.addr).expect("connect to the mock");
        stream.write_all(request).expect("send request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        response
    }

    #[test]
    fn chunked_request_body_is_recorded_decoded() {
        let mock = MockModel::start(vec![Step::message("ok")]);

        let response = exchange(
            &mock,
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nX-Test: A\r\n\
              Transfer-Encoding: chunked\r\n\r\n\
              7\r\n{\"a\":\"b\r\n3;ext=1\r\nc\"}\r\n0\r\n\r\n",
        );

        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.contains("Content-Type: text/event-stream"), "{response}");
        assert!(response.contains(r#""type":"response.completed""#), "{response}");
        let requests = mock.requests();
        assert_eq!(requests[0].body, r#"{"a":"bc"}"#);
        assert_eq!(requests[0].json, Some(json!({"a": "bc"})));
        assert_eq!(requests[0].header("X-TEST"), Some("A"));
        assert!(requests[0].scripted);
        assert_eq!(mock.remaining_steps(), 0);
    }

    #[test]
    fn unknown_routes_and_an_exhausted_script_are_answered_and_recorded() {
        let mock = MockModel::start(vec![]);

        let not_found = exchange(&mock, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
        let exhausted = exchange(&mock, b"POST /v1/responses HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");

        assert!(not_found.starts_with("HTTP/1.1 404 "), "{not_found}");
        assert!(exhausted.starts_with("HTTP/1.1 500 "), "{exhausted}");
        assert!(exhausted.contains("no scripted step left"), "{exhausted}");
        assert_eq!(mock.unscripted_requests().len(), 2);
        assert_eq!(mock.request_log_text(), "\n{}");
    }

    #[test]
    fn dropping_the_mock_releases_a_hung_connection_promptly() {
        let mock = MockModel::start(vec![Step::Hang]);
        let stream = TcpStream::connect(mock.addr).expect("connect to the mock");
        // A broken Drop fails the read below instead of hanging the test.
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("set read timeout");
        let mut reader = BufReader::new(stream);
        reader
            .get_mut()
            .write_all(b"POST /v1/responses HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
            .expect("send request");
        // Wait until the step is being served (response.created sent), i.e. really hanging.
        let mut line = String::new();
        while !line.contains(r#""type":"response.created""#) {
            line.clear();
            reader.read_line(&mut line).expect("read the response so far");
        }
        assert!(mock.wait_for_requests(1, Duration::from_secs(5)));

        let started = Instant::now();
        drop(mock);
        let dropped_after = started.elapsed();

        let mut rest = String::new();
        reader.read_to_string(&mut rest).expect("the connection ends when the mock is dropped");
        assert!(dropped_after < Duration::from_secs(1), "{dropped_after:?}");
        assert!(!rest.contains("response.completed"), "{rest}");
    }
}
