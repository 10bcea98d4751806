//! The `hookshift` binary: parses the command line and runs the library's commands.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use hookshift::cli::{self, Cli, Command};

/// mimalloc instead of the system allocator: parsing and translating build trees of many small
/// allocations, where glibc malloc costs about a third of the parse time (see README "Performance").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse().command()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("hookshift: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Serve(args) => cli::serve(args).await?,
        Command::Check(args) => cli::check(&args)?,
        Command::Translate(args) => println!("{}", cli::translate_command(&args)?),
        Command::Reference(args) => {
            if let Some(markdown) = cli::reference_command(&args)? {
                print!("{markdown}");
            }
        }
        Command::NewStep(args) => println!("{}", cli::new_step::new_step_command(&args)?),
        Command::Sign(args) => print!("{}", cli::sign::sign_command(&args)?),
        Command::Verify(args) => println!("{}", cli::verify::verify_command(&args)?),
        Command::Send(args) => println!("{}", cli::send::send_command(&args).await?),
        Command::Quarantine(args) => match &args.command {
            hookshift::cli::quarantine::QuarantineCommand::List(list) => {
                print!("{}", hookshift::cli::quarantine::list(list).await?)
            }
            hookshift::cli::quarantine::QuarantineCommand::Replay(replay) => {
                print!("{}", hookshift::cli::quarantine::replay(replay).await?)
            }
        },
        Command::Status(args) => {
            let output = cli::status::run(&args).await?;
            print!("{}", output.text);
            if !output.ready {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Shadow(args) => match &args.command {
            hookshift::cli::shadow_report::ShadowCommand::Report(report) => {
                print!("{}", hookshift::cli::shadow_report::run(report).await?)
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
