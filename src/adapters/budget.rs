//! The daily token budget (`CODEX_IN_CLAUDE_DAILY_TOKEN_BUDGET`): a small ledger in the state
//! directory that counts the tokens every paid run reported, per local day, and the check that
//! refuses a paid call once the day's budget is used up. The ledger also keeps when a used-up
//! ChatGPT plan resets, as codex said when it ended a run on it, so no call is sent before then;
//! that note belongs to the codex account it came from (`account`, a digest of what codex's
//! `account/read` answers), so a call made under another login is not refused for it, and
//! `clear-usage-limit` drops it (credits bought, a plan upgraded in place).
//!
//! The ledger is one JSON file written with the atomic state-file writer; every update is a
//! read-modify-write under an exclusive lock on a sibling lock file, so concurrent runs, in this
//! process or others, all count. Reads need no lock: the writer replaces the whole file.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::foundation::clock;
use crate::foundation::statefile::{self, ReadError};

const LEDGER_FILE: &str = "spend.json";
const LOCK_FILE: &str = "spend.lock";

/// What the ledger holds: the local day it counts, and that day's totals.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Ledger {
    day: String,
    tokens: u64,
    runs: u64,
    /// When codex said the plan's usage limit resets (epoch ms); kept across days.
    #[serde(default)]
    usage_limit_resets_ms: Option<u64>,
    /// The account that hit it (`Account`'s digest); `None` when it could not be read, and then
    /// the note holds for every account.
    #[serde(default)]
    usage_limit_account: Option<String>,
}

/// Which codex account a call runs under, as far as it can be told: a digest (never the
/// account's name) of codex's `account/read` answer, or `None` when codex could not say.
pub type Account = Option<String>;

/// Why `Budget::check` refuses a paid call; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetError {
    /// A budget is set and its ledger cannot be read, so it cannot be kept.
    LedgerUnreadable { ledger: PathBuf, why: String },
    /// codex ended an earlier run on the plan's usage limit, which resets at `resets_ms`.
    UsageLimit { resets_ms: u64, retry_after_ms: u64 },
    /// Today's runs used up the budget, which renews at `renews_ms`.
    Exhausted { tokens: u64, runs: u64, limit: u64, renews_ms: u64, retry_after_ms: u64 },
}

impl std::fmt::Display for BudgetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BudgetError::LedgerUnreadable { why, .. } => write!(f, "the spend ledger cannot be read: {why}"),
            BudgetError::UsageLimit { resets_ms, .. } => write!(
                f,
                "codex ended an earlier run on the plan's usage limit; it resets at {}, and no call is sent before then",
                clock::rfc3339(*resets_ms)
            ),
            BudgetError::Exhausted { tokens, runs, limit, renews_ms, .. } => write!(
                f,
                "today's token budget is used up: {tokens} of {limit} tokens over {runs} paid run(s) (CODEX_IN_CLAUDE_DAILY_TOKEN_BUDGET); it renews at {}",
                clock::rfc3339(*renews_ms)
            ),
        }
    }
}

/// The ledger of one state directory, with the budget it is checked against.
/// `codex_status.budget` (see `Budget::report`).
#[derive(Debug, Serialize)]
pub struct Report {
    daily_token_budget: Option<u64>,
    day: String,
    used_tokens: Option<u64>,
    paid_runs: Option<u64>,
    remaining_tokens: Option<u64>,
    renews_at: String,
    usage_limit_resets_at: Option<String>,
    error: Option<String>,
}

pub struct Budget {
    dir: PathBuf,
    limit: Option<u64>,
}

impl Budget {
    pub fn new(state_dir: &Path, limit: Option<u64>) -> Budget {
        Budget { dir: state_dir.to_path_buf(), limit }
    }

    /// `budget_exhausted` when today's runs already used the whole budget; retryable once the
    /// day turns. No budget: always `Ok`. A ledger that cannot be read refuses too (the budget
    /// is a promise to the user, and an unreadable ledger cannot keep it). A used-up plan's
    /// note refuses until it resets unless `account` (asked only then: it costs a codex
    /// app-server conversation) is another account than the one that hit it, and then the note
    /// is dropped: the user switched login.
    pub fn check(&self, account: impl FnOnce() -> Account) -> Result<(), BudgetError> {
        let now = clock::now_ms();
        let (today, next_day_ms) = clock::local_day(now);
        let used = match (self.today(&today), self.limit) {
            (Ok(used), _) => used,
            // Without a budget only a usage-limit note is read, and a ledger nobody asked to
            // keep must not stop a call.
            (Err(_), None) => return Ok(()),
            (Err(why), Some(_)) => {
                return Err(BudgetError::LedgerUnreadable { ledger: self.dir.join(LEDGER_FILE), why });
            }
        };
        if let Some(resets_ms) = used.usage_limit_resets_ms.filter(|&at| at > now) {
            let switched = match (&used.usage_limit_account, account()) {
                (Some(noted), Some(current)) => *noted != current,
                _ => false,
            };
            if !switched {
                return Err(BudgetError::UsageLimit { resets_ms, retry_after_ms: resets_ms - now });
            }
            if let Err(err) = self.clear_usage_limit() {
                crate::log_warn!("could not drop another account's usage-limit note from the spend ledger: {err}");
            }
        }
        let Some(limit) = self.limit else { return Ok(()) };
        if used.tokens < limit {
            return Ok(());
        }
        Err(BudgetError::Exhausted {
            tokens: used.tokens,
            runs: used.runs,
            limit,
            renews_ms: next_day_ms,
            retry_after_ms: next_day_ms.saturating_sub(now),
        })
    }

    /// Notes that codex ended a run of `account` on the plan's usage limit, which resets at
    /// `resets_ms` (written with or without a budget: it saves calls bound to fail).
    pub fn note_usage_limit(&self, resets_ms: u64, account: Account) -> std::io::Result<()> {
        self.update(|ledger| {
            ledger.usage_limit_resets_ms = Some(resets_ms);
            ledger.usage_limit_account = account;
        })
    }

    /// Drops the used-up plan's note, whatever account it was for; returns the reset it named
    /// when one was still ahead. Writes nothing when there is no note.
    pub fn clear_usage_limit(&self) -> std::io::Result<Option<u64>> {
        let (today, _) = clock::local_day(clock::now_ms());
        match self.today(&today) {
            Ok(ledger) if ledger.usage_limit_resets_ms.is_none() => return Ok(None),
            Ok(_) => {}
            Err(why) => return Err(std::io::Error::other(why)),
        }
        let mut cleared = None;
        self.update(|ledger| {
            cleared = ledger.usage_limit_resets_ms.take().filter(|&at| at > clock::now_ms());
            ledger.usage_limit_account = None;
        })?;
        Ok(cleared)
    }

    /// Adds one paid run's tokens to today's count. Without a budget nothing is counted: the
    /// ledger is written only for a user who asked for a limit.
    pub fn record(&self, tokens: u64) -> std::io::Result<()> {
        if self.limit.is_none() {
            return Ok(());
        }
        self.update(|ledger| {
            ledger.tokens = ledger.tokens.saturating_add(tokens);
            ledger.runs += 1;
        })
    }

    /// Today's ledger, changed by `change` and written back, under the lock.
    fn update(&self, change: impl FnOnce(&mut Ledger)) -> std::io::Result<()> {
        statefile::private_dir(&self.dir)?;
        let lock = statefile::open_lock(&self.dir.join(LOCK_FILE))?;
        lock.lock()?;
        let (today, _) = clock::local_day(clock::now_ms());
        let mut ledger = self.today(&today).map_err(std::io::Error::other)?;
        change(&mut ledger);
        let written = statefile::write_json(&self.dir.join(LEDGER_FILE), &ledger);
        File::unlock(&lock)?;
        written
    }

    /// `codex_status.budget`: the limit, today's use and what is left (use is null when no
    /// budget is set, since nothing is counted then).
    pub fn report(&self) -> Report {
        let now = clock::now_ms();
        let (today, next_day_ms) = clock::local_day(now);
        let ledger = self.today(&today);
        let resets_ms = ledger.as_ref().ok().and_then(|l| l.usage_limit_resets_ms).filter(|&at| at > now);
        let (used, error) = match (self.limit, ledger) {
            (None, _) => (None, None),
            (Some(_), Ok(ledger)) => (Some(ledger), None),
            (Some(_), Err(why)) => (None, Some(format!("the spend ledger cannot be read: {why}"))),
        };
        let tokens = used.as_ref().map(|l| l.tokens);
        Report {
            daily_token_budget: self.limit,
            day: today,
            used_tokens: tokens,
            paid_runs: used.as_ref().map(|l| l.runs),
            remaining_tokens: self.limit.zip(tokens).map(|(limit, used)| limit.saturating_sub(used)),
            renews_at: clock::rfc3339(next_day_ms),
            usage_limit_resets_at: resets_ms.map(clock::rfc3339),
            error,
        }
    }

    /// Today's totals: a ledger of an earlier day counts as empty.
    fn today(&self, today: &str) -> Result<Ledger, String> {
        match statefile::read_json::<Ledger>(&self.dir.join(LEDGER_FILE)) {
            Ok(ledger) if ledger.day == today => Ok(ledger),
            Ok(earlier) => Ok(Ledger {
                day: today.to_string(),
                usage_limit_resets_ms: earlier.usage_limit_resets_ms,
                usage_limit_account: earlier.usage_limit_account,
                ..Ledger::default()
            }),
            Err(ReadError::Missing) => Ok(Ledger { day: today.to_string(), ..Ledger::default() }),
            Err(why) => Err(why.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_day_and_refuses_past_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget::new(dir.path(), Some(100));
        budget.check(|| None).unwrap();
        budget.record(60).unwrap();
        budget.check(|| None).unwrap();
        budget.record(60).unwrap();
        match budget.check(|| None).unwrap_err() {
            BudgetError::Exhausted { tokens: 120, runs: 2, limit: 100, retry_after_ms, .. } => {
                assert!(retry_after_ms <= 90_000_000, "{retry_after_ms}")
            }
            refused => panic!("{refused:?}"),
        }
        let report = budget.report();
        assert_eq!((report.used_tokens, report.remaining_tokens), (Some(120), Some(0)));
        // Yesterday's ledger counts for nothing today.
        statefile::write_json(
            &dir.path().join(LEDGER_FILE),
            &Ledger { day: "2000-01-01".into(), tokens: 999, runs: 9, ..Ledger::default() },
        )
        .unwrap();
        budget.check(|| None).unwrap();
        assert_eq!(budget.report().used_tokens, Some(0));
    }

    #[test]
    fn no_budget_never_refuses_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget::new(dir.path(), None);
        budget.record(5).unwrap();
        budget.check(|| None).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!((budget.report().used_tokens, budget.report().remaining_tokens), (None, None));
    }

    #[test]
    fn a_used_up_plan_refuses_calls_until_it_resets() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget::new(dir.path(), None);
        let resets = clock::now_ms() + 3_600_000;
        budget.note_usage_limit(resets, None).unwrap();
        match budget.check(|| None).unwrap_err() {
            BudgetError::UsageLimit { resets_ms, retry_after_ms } => {
                assert_eq!(resets_ms, resets);
                assert!(retry_after_ms > 3_500_000 && retry_after_ms <= 3_600_000, "{retry_after_ms}");
            }
            refused => panic!("{refused:?}"),
        }
        assert_eq!(budget.report().usage_limit_resets_at, Some(clock::rfc3339(resets)));
        budget.note_usage_limit(clock::now_ms() - 1, None).unwrap();
        budget.check(|| None).unwrap();
    }

    #[test]
    fn a_used_up_plan_belongs_to_its_account_and_is_cleared_by_a_login_change_or_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget::new(dir.path(), None);
        let resets = clock::now_ms() + 3_600_000;
        let account = |name: &str| Some(name.to_string());
        budget.note_usage_limit(resets, account("a")).unwrap();
        // The same account, or one codex cannot name: refused, and the account is asked.
        assert!(matches!(budget.check(|| account("a")), Err(BudgetError::UsageLimit { .. })));
        assert!(matches!(budget.check(|| None), Err(BudgetError::UsageLimit { .. })));
        // Another login: allowed, and the note is gone for good.
        budget.check(|| account("b")).unwrap();
        budget.check(|| account("a")).unwrap();
        assert_eq!(budget.report().usage_limit_resets_at, None);
        // A note no account was read for holds for all, until it is cleared on request.
        budget.note_usage_limit(resets, None).unwrap();
        assert!(matches!(budget.check(|| account("b")), Err(BudgetError::UsageLimit { .. })));
        assert_eq!(budget.clear_usage_limit().unwrap(), Some(resets));
        budget.check(|| panic!("no note: the account is not asked")).unwrap();
        assert_eq!(budget.clear_usage_limit().unwrap(), None);
    }

    #[test]
    fn a_corrupt_ledger_is_said_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEDGER_FILE), b"{\"day\":").unwrap();
        let budget = Budget::new(dir.path(), Some(10));
        assert!(matches!(budget.check(|| None).unwrap_err(), BudgetError::LedgerUnreadable { .. }));
        assert!(budget.record(1).is_err());
        assert!(budget.report().error.is_some());
    }
}
