//! Logs: `tracing` to standard error, human-readable or JSON.

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging options.
#[derive(Debug, Clone, Args)]
pub struct LogOptions {
    /// Log format.
    #[arg(long, env = "WHISTLE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `whistle_store=debug` (RUST_LOG syntax).
    #[arg(long, env = "WHISTLE_LOG", default_value = "warn", global = true)]
    pub log: String,
}

/// Installs the global subscriber. Logs go to standard error so standard output stays
/// the command's own output.
pub fn init(options: &LogOptions) {
    let filter = EnvFilter::try_new(&options.log).unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = match options.log_format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
