//! `whistle`: parse the command line, start telemetry, run.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = whistle::Cli::parse();
    whistle::telemetry::init(&cli.log);
    match whistle::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`whistle log | head`): not a failure.
        Err(error)
            if error.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            // `{:#}` prints the whole cause chain on one line: what failed and why.
            eprintln!("whistle: {error:#}");
            ExitCode::FAILURE
        }
    }
}
