//! The two points where a paid run meets the daily token budget (`adapters::budget`): the
//! ledger of this call's configuration, checked before codex starts and charged after it ends.

use super::Call;
use crate::adapters::budget::Budget;
use crate::adapters::codex::exec::Run;
use crate::adapters::codex::failure::{self, CodexFailure};

/// The budget ledger this call is checked against and charged to.
pub fn of(call: &Call) -> Budget {
    Budget::new(&call.config.state_dir, call.config.daily_token_budget)
}

/// Charges the tokens the run reported (a failed turn may have spent some too), and notes when
/// a used-up plan resets if codex ended the run on it. A ledger that refuses the write is
/// logged, and `codex_status` shows the ledger's state.
pub fn record(budget: &Budget, run: &Run) {
    let tokens = run.stream.usage.map_or(0, |usage| usage.total_tokens);
    if let Err(err) = budget.record(tokens) {
        crate::log_warn!("could not count {tokens} tokens in the spend ledger: {err}");
    }
    let resets = match &run.failure {
        Some(failure @ CodexFailure::RateLimited { .. }) => {
            failure::retry_at_ms(&failure.to_string().to_lowercase(), crate::foundation::clock::now_ms())
        }
        _ => None,
    };
    if let Some(Err(err)) = resets.map(|at| budget.note_usage_limit(at)) {
        crate::log_warn!("could not note the usage limit's reset in the spend ledger: {err}");
    }
}
