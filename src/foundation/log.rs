//! Leveled logging to stderr (and optionally a file). stdout belongs to the protocol in `serve`
//! mode, so nothing here may ever write to it.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    pub fn parse(name: &str) -> Option<Level> {
        match name.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => Some(Level::Debug),
            "INFO" => Some(Level::Info),
            "WARNING" | "WARN" => Some(Level::Warning),
            "ERROR" => Some(Level::Error),
            "CRITICAL" => Some(Level::Critical),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

struct Logger {
    level: Level,
    file: Option<Mutex<std::fs::File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the level and the optional log file once, at start-up. A file that cannot be opened is
/// reported on stderr and skipped.
pub fn init(level: Level, file: Option<&std::path::Path>) {
    let file =
        file.and_then(|path| match std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path) {
            Ok(f) => Some(Mutex::new(f)),
            Err(err) => {
                eprintln!("codex-in-claude WARNING: cannot open log file {}: {err}", path.display());
                None
            }
        });
    let _ = LOGGER.set(Logger { level, file });
}

pub fn enabled(level: Level) -> bool {
    level >= LOGGER.get().map_or(Level::Warning, |l| l.level)
}

pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let line = format!(
        "{}.{:03} codex-in-claude {}: {}\n",
        since_epoch.as_secs(),
        since_epoch.subsec_millis(),
        level.name(),
        message
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(file) = LOGGER.get().and_then(|l| l.file.as_ref())
        && let Ok(mut f) = file.lock()
    {
        let _ = f.write_all(line.as_bytes());
    }
}

#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => { $crate::foundation::log::write($crate::foundation::log::Level::Debug, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::foundation::log::write($crate::foundation::log::Level::Info, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => { $crate::foundation::log::write($crate::foundation::log::Level::Warning, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::foundation::log::write($crate::foundation::log::Level::Error, format_args!($($arg)*)) };
}
