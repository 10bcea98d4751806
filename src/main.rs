//! The `hookshift` binary: parses the command line and runs the library's commands.

use anyhow::Result;
use clap::Parser;
use hookshift::cli::{self, Cli, Command};

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command() {
        Command::Serve(args) => cli::serve(args).await?,
        Command::Check(args) => cli::check(&args)?,
        Command::Translate(args) => println!("{}", cli::translate_command(&args)?),
    }
    Ok(())
}
