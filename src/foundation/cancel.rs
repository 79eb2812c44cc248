//! `CancelToken`: a flag shared between the main loop (which sets it on
//! `notifications/cancelled` or stdin EOF) and the work it cancels (which polls it, most
//! importantly the process runner, which then kills its child's process group).
//!
//! Two reasons to stop are told apart: the caller *cancels* (the work, a paid run included, is
//! stopped), or the caller is *going away* (stdin closed: the call stops waiting, but a durable
//! paid run goes on to its end and its result is kept). The first reason given wins.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

const LIVE: u8 = 0;
const CANCELLED: u8 = 1;
const ABANDONED: u8 = 2;

#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicU8>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// The caller wants the work stopped.
    pub fn cancel(&self) {
        let _ = self.0.compare_exchange(LIVE, CANCELLED, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The caller is going away: stop waiting, and stop what dies with this process anyway.
    pub fn abandon(&self) {
        let _ = self.0.compare_exchange(LIVE, ABANDONED, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether the work should stop, for either reason.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst) != LIVE
    }

    /// Whether the caller went away without cancelling.
    pub fn is_abandoned(&self) -> bool {
        self.0.load(Ordering::SeqCst) == ABANDONED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let token = CancelToken::new();
        assert!(!token.is_cancelled());
        token.abandon();
        token.cancel();
        assert!(token.is_cancelled() && token.is_abandoned());
        let token = CancelToken::new();
        token.cancel();
        token.abandon();
        assert!(token.is_cancelled() && !token.is_abandoned());
    }
}
