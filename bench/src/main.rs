//! `scs-bench` entry point: parse the command line, run, print the report.

use std::process::ExitCode;

use clap::Parser;
use scs_bench::BenchArgs;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = BenchArgs::parse();
    let allow_errors = args.allow_errors;
    let result = scs_bench::run(args).await.and_then(|outcome| {
        print!("{}", outcome.output);
        outcome.check(allow_errors)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
