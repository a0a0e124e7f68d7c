//! The `binlogserver` command: parse flags, set up logging, run.

use std::process::ExitCode;

use binlogserver::cli::{self, CliOutcome};
use binlogserver::shutdown::Shutdown;
use binlogserver::signals::SignalThread;

/// Logs a panic through the logger, with its thread's name and message:
/// release builds abort on panic (no unwinding to a supervisor), so this
/// line is what the log keeps of it before the non-zero exit.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let at =
            info.location().map(|l| format!(" at={}:{}", l.file(), l.line())).unwrap_or_default();
        log::error!("thread panicked, stopping thread={name} message={message:?}{at}");
    }));
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = binlogserver::tools::dispatch(&args) {
        return code;
    }
    let (config, level, warnings) = match cli::parse(&args, |k| std::env::var(k).ok()) {
        Ok(CliOutcome::Run(config, level, warnings)) => (config, level, warnings),
        Ok(CliOutcome::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(CliOutcome::Version(v)) => {
            println!("{v}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("binlogserver: {e}\nTry 'binlogserver --help'.");
            return ExitCode::from(2);
        }
    };
    let mut logger = env_logger::Builder::new();
    logger.filter_level(level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        logger.parse_filters(&spec);
    }
    logger.init();
    log_panics();
    for w in &warnings {
        log::warn!("{w}");
    }
    let shutdown = Shutdown::new();
    let signals = match SignalThread::spawn(shutdown.clone()) {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot handle SIGTERM and SIGINT: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = binlogserver::run(*config, shutdown);
    signals.stop();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{}", binlogserver::error::chain(&e));
            ExitCode::FAILURE
        }
    }
}
