//! `hookshift serve` (the default command): load the configuration, set up logging, bind, and run.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::config::Config;

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file.
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
}

/// `hookshift serve`: load the configuration, set up logging, bind, and run until SIGTERM/SIGINT.
pub async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let config = Config::load(&args.config)?;
    crate::logging::init(config.server.log_format);
    let bind = |address| async move {
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| CliError::Bind { address, source })
    };
    // Shareable with SO_REUSEPORT: each webhook worker then accepts on a socket of its own.
    let address = config.server.listen;
    let listener =
        crate::server::bind_shared(address).map_err(|source| CliError::Bind { address, source })?;
    let admin_listener = bind(config.server.admin_listen).await?;
    crate::run(config, listener, admin_listener, crate::shutdown_signal()).await?;
    Ok(())
}
