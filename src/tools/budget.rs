//! The two points where a paid run meets the daily token budget (`adapters::budget`): the
//! ledger of this call's configuration, checked before codex starts and charged after it ends,
//! and the codex account a used-up plan's note belongs to.

use super::Call;
use crate::adapters::budget::{Account, Budget, BudgetError};
use crate::adapters::codex::app_server;
use crate::adapters::codex::exec::Run;
use crate::adapters::codex::failure::{self, CodexFailure};

/// The budget ledger this call is checked against and charged to.
pub fn of(call: &Call) -> Budget {
    Budget::new(&call.config.state_dir, call.config.daily_token_budget)
}

/// The codex account this call runs under (`app_server::account_digest`): one spend-free
/// app-server conversation, asked only where a used-up plan's note needs it.
pub fn account(call: &Call) -> Account {
    let answers = app_server::ask(&[("account/read", serde_json::json!({}))], app_server::TIMEOUT, &call.cancel);
    answers.ok()?.first()?.as_ref().ok().map(app_server::account_digest)
}

/// `budget.check`, asking for the account only when a used-up plan's note is there.
pub fn check(call: &Call, budget: &Budget) -> Result<(), BudgetError> {
    budget.check(|| account(call))
}

/// Charges the tokens the run reported (a failed turn may have spent some too), and notes when
/// a used-up plan resets if codex ended the run on it. A ledger that refuses the write is
/// logged, and `codex_status` shows the ledger's state.
pub fn record(call: &Call, budget: &Budget, run: &Run) {
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
    if let Some(Err(err)) = resets.map(|at| budget.note_usage_limit(at, account(call))) {
        crate::log_warn!("could not note the usage limit's reset in the spend ledger: {err}");
    }
}
