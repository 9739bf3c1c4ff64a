//! `whistle`: parse the command line, start telemetry, run.

use std::process::ExitCode;

use clap::Parser;

// Every event passes through short-lived buffers (rows, messages, bodies) that are often
// freed on another thread than the one that made them; mimalloc does that work faster than
// glibc's malloc (see docs/benchmarks.md, relay).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
