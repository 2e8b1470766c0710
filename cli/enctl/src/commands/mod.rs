//! The commands. Each module turns parsed arguments into calls through [`Clients`] and output
//! through the pure [`crate::print`] functions; [`objects`] holds what several commands share
//! (reading objects of any kind, one item type for tables and documents).

pub mod apply;
pub mod auth;
pub mod config;
pub mod delete;
pub mod describe;
pub mod endpoints;
pub mod get;
pub mod node;
pub mod objects;
pub mod pki;
pub mod rollout;
pub mod token;
pub mod version;

use crate::cli::{Command, GlobalArgs};
use crate::client::Clients;
use crate::config::Settings;
use crate::console::Console;
use crate::error::CliError;

/// What every command runs with.
#[derive(Debug)]
pub struct Ctx {
    /// The global flags.
    pub global: GlobalArgs,
    /// The services.
    pub clients: Clients,
    /// stdout / stderr.
    pub console: Console,
}

impl Ctx {
    /// A context for `global` flags and resolved `settings`.
    pub fn new(global: GlobalArgs, settings: Settings) -> Self {
        let clients = Clients::new(settings, global.request_timeout);
        Self {
            global,
            clients,
            console: Console,
        }
    }

    /// The namespace of `-n`, else `default`.
    pub fn namespace(&self) -> String {
        self.global.namespace()
    }
}

/// Runs `command`.
pub async fn run(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::Apply(args) => apply::run(ctx, args).await,
        Command::Get(args) => get::run(ctx, args).await,
        Command::Describe(args) => describe::run(ctx, args).await,
        Command::Delete(args) => delete::run(ctx, args).await,
        Command::Label(args) => node::label(ctx, args).await,
        Command::Cordon(args) => node::cordon(ctx, &args.node, true).await,
        Command::Uncordon(args) => node::cordon(ctx, &args.node, false).await,
        Command::Taint(args) => node::taint(ctx, args).await,
        Command::Endpoints(args) => endpoints::run(ctx, args).await,
        Command::Rollout(command) => rollout::run(ctx, command).await,
        Command::Version(args) => version::run(ctx, args).await,
        Command::Pki(command) => pki::run(&ctx.console, command),
        Command::Auth(command) => auth::run(ctx, command).await,
        Command::Token(command) => token::run(ctx, command).await,
        Command::Config(command) => config::run(ctx, command),
    }
}
