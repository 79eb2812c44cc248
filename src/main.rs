//! Entry point: parse the command line and hand over to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    match codex_in_claude::frontends::cli::parse(std::env::args_os().skip(1)) {
        Ok(mode) => codex_in_claude::run(mode),
        Err(codex_in_claude::frontends::cli::UsageError(problem)) => {
            eprintln!("codex-in-claude: {problem}\n\n{}", codex_in_claude::frontends::cli::usage());
            ExitCode::from(2)
        }
    }
}
