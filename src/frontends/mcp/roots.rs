//! The client's roots on a legacy session: requested with `roots/list` after `initialized` (and
//! again after `notifications/roots/list_changed`), and handed to tool calls, which wait a
//! bounded time for an outstanding answer rather than run against stale or missing roots.

use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::foundation::rpc::RequestId;
use crate::tools::Roots;

/// How long a tool call waits for the client to answer `roots/list` before going on without.
const ROOTS_WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct SessionRoots {
    state: Mutex<State>,
    settled: Condvar,
}

#[derive(Default)]
struct State {
    /// The id of the `roots/list` request we are waiting on, if any.
    awaiting: Option<RequestId>,
    roots: Vec<PathBuf>,
}

impl SessionRoots {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A `roots/list` request with this id is on its way to the client.
    pub fn expect(&self, id: RequestId) {
        self.lock().awaiting = Some(id);
    }

    pub fn is_awaiting(&self, id: &RequestId) -> bool {
        self.lock().awaiting.as_ref() == Some(id)
    }

    /// The client answered request `id` with these root URIs (empty on an error reply).
    pub fn settle(&self, id: &RequestId, uris: Vec<String>) {
        let mut state = self.lock();
        if state.awaiting.as_ref() == Some(id) {
            state.roots = crate::adapters::workspace::roots_from_uris(uris.iter().map(String::as_str));
            state.awaiting = None;
            self.settled.notify_all();
        }
    }
}

impl Roots for SessionRoots {
    fn current(&self) -> Vec<PathBuf> {
        let deadline = Instant::now() + ROOTS_WAIT;
        let mut state = self.lock();
        while state.awaiting.is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                crate::log_warn!("the client did not answer roots/list in time; using the last known roots");
                break;
            }
            state = self.settled.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        state.roots.clone()
    }
}
