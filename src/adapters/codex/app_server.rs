//! Spend-free questions to `codex app-server` (docs/codex-cli.md §6): one short conversation that
//! initializes, asks a few requests, and hangs up once every one is answered. Built on the
//! foundation's JSON-RPC message shapes and its process runner, so the child is bounded by a
//! timeout, killed with its group and reaped like every other one. Any request the server sends
//! us is declined at once, so nothing on its side waits on us.
//!
//! Also what the answers mean: the rate-limit windows and their overall status, and the models
//! with the reasoning efforts each accepts (from `model/list`, else codex's model cache).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::foundation::cancel::CancelToken;
use crate::foundation::identity;
use crate::foundation::process::{Cmd, LineObserver, RunError};
use crate::foundation::rpc::{self, Message, RequestId, codes};

/// How long one conversation may take; the real server answers in well under a second.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A used percentage at or above this is reported `limited`: close enough to the end that a
/// long task may not finish inside the window.
const LIMITED_PERCENT: f64 = 80.0;

/// Why no answer came.
#[derive(Debug, Clone, PartialEq)]
pub enum Unavailable {
    /// codex is not on PATH.
    NotFound,
    /// It started but the conversation did not finish: the reason in a sentence.
    Failed(String),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::NotFound => f.write_str("codex was not found on PATH"),
            Unavailable::Failed(why) => f.write_str(why),
        }
    }
}

/// One request's answer: its `result`, or the server's error message.
pub type Answer = Result<Value, String>;

/// What the conversation heard, shared with the line observer on the drain thread.
#[derive(Default)]
struct Heard {
    answers: BTreeMap<i64, Answer>,
    /// Lines that were not JSON-RPC at all.
    garbage: usize,
    /// Requests the server sent us, each declined.
    declined: Vec<String>,
}

/// Asks `requests` (method, params) after the handshake and returns their answers in order.
pub fn ask(requests: &[(&str, Value)], timeout: Duration, cancel: &CancelToken) -> Result<Vec<Answer>, Unavailable> {
    let (feed, stdin) = mpsc::channel::<Vec<u8>>();
    let client = json!({"name": identity::SERVER_NAME, "version": identity::VERSION});
    let mut messages = vec![
        rpc::request(&RequestId::Number(0), "initialize", json!({"clientInfo": client})),
        rpc::notification("initialized", json!({})),
    ];
    let ids: Vec<i64> = (1..=requests.len() as i64).collect();
    for (id, (method, params)) in ids.iter().zip(requests) {
        messages.push(rpc::request(&RequestId::Number(*id), method, params.clone()));
    }
    for message in &messages {
        let _ = feed.send(line_of(message));
    }

    let heard = Arc::new(Mutex::new(Heard::default()));
    let observer = observer(feed, Arc::clone(&heard), ids.len() + 1);
    let out = Cmd::new(super::PROGRAM)
        .arg("app-server")
        .env(super::environment::codex(Vec::new()))
        .stdin_feed(stdin)
        .on_stdout_line(observer)
        .timeout(timeout)
        .cancel(cancel)
        .capture_caps(64 * 1024, 64 * 1024)
        .run()
        .map_err(|err| match err {
            RunError::NotFound { .. } => Unavailable::NotFound,
            RunError::Spawn { .. } => Unavailable::Failed(err.to_string()),
        })?;
    let mut heard = std::mem::take(&mut *heard.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(Err(why)) = heard.answers.get(&0) {
        return Err(Unavailable::Failed(format!("codex app-server refused initialize: {why}")));
    }
    let missing = ids.iter().filter(|id| !heard.answers.contains_key(id)).count();
    if missing == 0 {
        if !heard.declined.is_empty() {
            crate::log_debug!("declined app-server requests: {:?}", heard.declined);
        }
        return Ok(ids.iter().filter_map(|id| heard.answers.remove(id)).collect());
    }
    let how = if out.cancelled {
        "the call was cancelled".to_string()
    } else if out.timed_out {
        format!("it did not answer within {} s", timeout.as_secs())
    } else {
        // Foreign text: masked like every other error codex prints.
        let last = out.stderr.text().lines().last().unwrap_or("").to_string();
        let stderr = crate::foundation::text::one_line(&crate::foundation::redact::text(&last).text, 200);
        format!(
            "it exited (code {:?}) before answering{}",
            out.exit_code,
            if stderr.is_empty() { String::new() } else { format!(": {stderr}") }
        )
    };
    let garbage = match heard.garbage {
        0 => String::new(),
        n => format!("; {n} line(s) of its output were not JSON-RPC"),
    };
    Err(Unavailable::Failed(format!(
        "codex app-server left {missing} of {} request(s) unanswered: {how}{garbage}",
        ids.len()
    )))
}

/// Records answers, declines server requests, and hangs up (drops the last sender, closing the
/// child's stdin) once `expected` answers are in.
fn observer(feed: mpsc::Sender<Vec<u8>>, heard: Arc<Mutex<Heard>>, expected: usize) -> LineObserver {
    let mut feed = Some(feed);
    Box::new(move |line| {
        let mut heard = heard.lock().unwrap_or_else(|e| e.into_inner());
        match rpc::parse_peer_line(line) {
            Ok(Message::Reply(reply)) => {
                if let RequestId::Number(id) = reply.id {
                    let answer = reply.result.map_err(|error| {
                        let message =
                            error.get("message").and_then(Value::as_str).unwrap_or("an error without a message");
                        crate::foundation::redact::text(message).text
                    });
                    heard.answers.insert(id, answer);
                }
            }
            Ok(Message::Request(request)) => {
                let decline = rpc::failure(
                    Some(&request.id),
                    codes::METHOD_NOT_FOUND,
                    "this client only reads rate limits and models; it takes no requests",
                    None,
                );
                if let Some(feed) = &feed {
                    let _ = feed.send(line_of(&decline));
                }
                heard.declined.push(request.method);
            }
            Ok(Message::Notification(_)) => {}
            Err(_) => heard.garbage += 1,
        }
        if heard.answers.len() >= expected {
            feed = None;
        }
    })
}

fn line_of(message: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(message).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The overall state of the ChatGPT plan's usage windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitStatus {
    /// Every window has room.
    Available,
    /// A window is at or above `LIMITED_PERCENT`.
    Limited,
    /// A window is used up, or codex says a limit was reached.
    Exhausted,
    /// The account's spend controls do not allow included usage.
    Blocked,
    /// Could not be read (API-key auth, no codex, a failed conversation): `reason` says why.
    Unavailable,
}

/// `codex_status.rate_limit`: the overall status, why (when there is a reason to give) and the
/// two usage windows.
#[derive(Debug, Serialize)]
pub struct RateLimit {
    status: LimitStatus,
    reason: Option<String>,
    primary: Option<Window>,
    secondary: Option<Window>,
}

/// One usage window of the ChatGPT plan.
#[derive(Debug, Serialize)]
pub struct Window {
    used_percent: f64,
    window_minutes: Option<u64>,
    resets_at: Option<String>,
}

/// Which account codex runs under, from its answer to `account/read` (`{account, userId}`, the
/// account being null without a login, `{type: "apiKey"}` for an API key, or a ChatGPT sign-in
/// with its email and plan): a digest of that answer and `CODEX_HOME`, so a login change or a
/// plan change reads as another account, and nothing naming the account is ever kept.
pub fn account_digest(result: &Value) -> String {
    let identity = json!({
        "codex_home": std::env::var("CODEX_HOME").ok(),
        "account": result.get("account"),
        "user_id": result.get("userId"),
    });
    crate::foundation::hash::sha256_hex(identity.to_string().as_bytes())[..32].to_string()
}

/// `codex_status.rate_limit` from the answer to `account/rateLimits/read` (or why there is none).
pub fn rate_limit(answer: Result<&Answer, &Unavailable>) -> RateLimit {
    let unavailable = |reason: String| RateLimit {
        status: LimitStatus::Unavailable,
        reason: Some(reason),
        primary: None,
        secondary: None,
    };
    let snapshot = match answer {
        Err(why) => return unavailable(format!("could not ask codex app-server: {why}")),
        Ok(Err(message)) => {
            return unavailable(format!(
                "no rate limits from codex app-server ({message}); only a ChatGPT sign-in has them, not an API key"
            ));
        }
        Ok(Ok(result)) => match result.get("rateLimits") {
            Some(snapshot) if snapshot.is_object() => snapshot,
            _ => return unavailable("codex app-server answered without rateLimits".to_string()),
        },
    };
    let window = |name: &str| {
        let window = snapshot.get(name).filter(|w| w.is_object())?;
        let used = window.get("usedPercent").and_then(Value::as_f64)?;
        let resets_at =
            window.get("resetsAt").and_then(Value::as_u64).map(|s| crate::foundation::clock::rfc3339(s * 1000));
        Some(Window {
            used_percent: used,
            window_minutes: window.get("windowDurationMins").and_then(Value::as_u64),
            resets_at,
        })
    };
    let (primary, secondary) = (window("primary"), window("secondary"));
    if primary.is_none() && secondary.is_none() {
        return unavailable("codex app-server reported no usage window".to_string());
    }
    let highest = [&primary, &secondary].iter().filter_map(|w| Some(w.as_ref()?.used_percent)).fold(0.0, f64::max);
    let reached = snapshot.get("rateLimitReachedType").and_then(Value::as_str);
    let blocked = answer.ok().and_then(|a| a.as_ref().ok()?.get("ordinaryUsageAllowed")?.as_bool()) == Some(false);
    let status = if blocked {
        LimitStatus::Blocked
    } else if highest >= 100.0 || reached.is_some() {
        LimitStatus::Exhausted
    } else if highest >= LIMITED_PERCENT {
        LimitStatus::Limited
    } else {
        LimitStatus::Available
    };
    RateLimit { status, reason: reached.map(|r| format!("codex reports the limit reached: {r}")), primary, secondary }
}

/// One model codex offers and the reasoning efforts it accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: String,
    pub efforts: Vec<String>,
    pub default_effort: Option<String>,
    pub is_default: bool,
    pub hidden: bool,
}

/// Where a model list came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSource {
    AppServer,
    /// codex's cache file, used when the app-server could not answer (the reason is kept).
    Cache {
        path: PathBuf,
        app_server_error: String,
    },
}

/// The models codex offers: `model/list` through the app-server, else codex's model cache.
pub fn models(cancel: &CancelToken) -> Result<(Vec<Model>, ModelSource), String> {
    let asked = ask(&[("model/list", json!({}))], TIMEOUT, cancel);
    let app_server_error = match asked.as_ref().map(|answers| answers.first()) {
        Ok(Some(Ok(result))) => match models_of_list(result) {
            Some(models) => return Ok((models, ModelSource::AppServer)),
            None => "model/list answered in an unexpected shape".to_string(),
        },
        Ok(Some(Err(message))) => format!("model/list failed: {message}"),
        Ok(None) => "model/list gave no answer".to_string(),
        Err(why) => why.to_string(),
    };
    let path = codex_home().map(|home| home.join("models_cache.json"));
    let cached =
        path.as_ref().and_then(|p| std::fs::read(p).ok()).and_then(|bytes| serde_json::from_slice(&bytes).ok());
    match (cached.as_ref().and_then(models_of_cache), path) {
        (Some(models), Some(path)) => Ok((models, ModelSource::Cache { path, app_server_error })),
        _ => Err(format!("{app_server_error}; codex's model cache (models_cache.json) is missing or unreadable")),
    }
}

/// `$CODEX_HOME`, else `~/.codex`, as codex itself resolves it.
fn codex_home() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".codex")))
}

fn models_of_list(result: &Value) -> Option<Vec<Model>> {
    models_in(result.get("data"), |m| {
        Some(Model {
            id: m.get("model").or_else(|| m.get("id"))?.as_str()?.to_string(),
            efforts: strings_at(m.get("supportedReasoningEfforts"), "reasoningEffort"),
            default_effort: m.get("defaultReasoningEffort").and_then(Value::as_str).map(str::to_string),
            is_default: m.get("isDefault").and_then(Value::as_bool).unwrap_or(false),
            hidden: m.get("hidden").and_then(Value::as_bool).unwrap_or(false),
        })
    })
}

fn models_of_cache(cache: &Value) -> Option<Vec<Model>> {
    models_in(cache.get("models"), |m| {
        Some(Model {
            id: m.get("slug")?.as_str()?.to_string(),
            efforts: strings_at(m.get("supported_reasoning_levels"), "effort"),
            default_effort: m.get("default_reasoning_level").and_then(Value::as_str).map(str::to_string),
            is_default: false,
            hidden: m.get("visibility").and_then(Value::as_str).is_some_and(|v| v != "list"),
        })
    })
}

/// Each entry of a JSON list read by `model`; entries it cannot read are left out.
fn models_in(list: Option<&Value>, model: impl Fn(&Value) -> Option<Model>) -> Option<Vec<Model>> {
    Some(list?.as_array()?.iter().filter_map(model).collect())
}

/// The `key` member of each object in a list (`[{reasoningEffort: "low"}, …]` → `["low", …]`).
fn strings_at(list: Option<&Value>, key: &str) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|item| item.get(key)?.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(primary: f64, secondary: f64, extra: Value) -> Answer {
        let mut snapshot = json!({
            "primary": {"usedPercent": primary, "windowDurationMins": 300, "resetsAt": 1_795_600_000},
            "secondary": {"usedPercent": secondary, "windowDurationMins": 10080, "resetsAt": 1_796_000_000},
        });
        let mut result = json!({});
        if let Value::Object(extra) = extra {
            for (key, value) in extra {
                if key == "rateLimitReachedType" { snapshot[key] = value } else { result[key] = value }
            }
        }
        result["rateLimits"] = snapshot;
        Ok(result)
    }

    #[test]
    fn status_follows_the_fullest_window_and_the_server_flags() {
        let status = |answer: Answer| json!(rate_limit(Ok(&answer)).status).as_str().unwrap().to_string();
        assert_eq!(status(windows(10.0, 50.0, json!({}))), "available");
        assert_eq!(status(windows(85.0, 50.0, json!({}))), "limited");
        assert_eq!(status(windows(100.0, 50.0, json!({}))), "exhausted");
        assert_eq!(status(windows(5.0, 5.0, json!({"rateLimitReachedType": "rate_limit_reached"}))), "exhausted");
        assert_eq!(status(windows(5.0, 5.0, json!({"ordinaryUsageAllowed": false}))), "blocked");
        let report = json!(rate_limit(Ok(&windows(12.5, 3.0, json!({})))));
        assert_eq!(report["primary"]["used_percent"], 12.5);
        assert_eq!(report["primary"]["resets_at"], "2026-11-25T09:46:40.000Z");
        assert_eq!(report["secondary"]["window_minutes"], 10080);
    }

    #[test]
    fn no_windows_is_unavailable_with_the_reason_never_a_guess() {
        let api_key: Answer = Err("codex account authentication required to read rate limits".into());
        let report = json!(rate_limit(Ok(&api_key)));
        assert_eq!(report["status"], "unavailable");
        assert!(report["reason"].as_str().unwrap().contains("authentication required"));
        let report = json!(rate_limit(Err(&Unavailable::NotFound)));
        assert_eq!((report["status"].as_str(), report["primary"].is_null()), (Some("unavailable"), true));
        assert_eq!(json!(rate_limit(Ok(&Ok(json!({"rateLimits": {"primary": null}})))))["status"], "unavailable");
    }

    #[test]
    fn models_are_read_from_the_list_and_from_the_cache() {
        let list = json!({"data": [{"id": "m1", "model": "m1", "hidden": false, "isDefault": true,
            "defaultReasoningEffort": "low",
            "supportedReasoningEfforts": [{"reasoningEffort": "low"}, {"reasoningEffort": "high"}]}]});
        let models = models_of_list(&list).unwrap();
        assert_eq!(models[0].efforts, ["low", "high"]);
        assert!(models[0].is_default);
        let cache = json!({"models": [{"slug": "c1", "visibility": "hide", "default_reasoning_level": "medium",
            "supported_reasoning_levels": [{"effort": "medium"}]}]});
        let models = models_of_cache(&cache).unwrap();
        assert_eq!(
            (models[0].id.as_str(), models[0].hidden, models[0].default_effort.as_deref()),
            ("c1", true, Some("medium"))
        );
    }
}
