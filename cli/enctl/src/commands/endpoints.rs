//! `enctl endpoints ds NAME`: where a DaemonSet's pods can be reached (`Endpoints.List` of the
//! controller) as NODE ADDRESS PORTS READY (`-o wide` adds the pod).

use everynode_api::v1;

use super::Ctx;
use crate::cli::{EndpointsArgs, Output};
use crate::config::Service;
use crate::error::CliError;
use crate::print::names::Kind;
use crate::print::table::{self, Layout};

/// Runs `enctl endpoints`.
pub async fn run(ctx: &Ctx, args: EndpointsArgs) -> Result<(), CliError> {
    let name = crate::args::single_target(&args.targets, Kind::DaemonSet)?;
    let layout = match args.output {
        Output::Table => Layout::default(),
        Output::Wide => Layout {
            wide: true,
            namespace: false,
        },
        Output::Json | Output::Yaml | Output::Name => {
            return Err(CliError::Usage(
                "endpoints prints a table: use -o table or -o wide".into(),
            ));
        }
    };
    let namespace = ctx.namespace();
    let c = &ctx.clients;
    let mut api = c.endpoints().await?;
    let endpoints = c
        .call(
            Service::Controller,
            api.list(v1::EndpointsListRequest {
                namespace: namespace.clone(),
                name: name.clone(),
            }),
        )
        .await?
        .endpoints;
    if endpoints.is_empty() {
        ctx.console.warn(&format!(
            "No endpoints found for {} in {namespace} namespace.",
            Kind::DaemonSet.slash_name(&name)
        ));
        return Ok(());
    }
    ctx.console
        .print(&table::endpoints(&endpoints, layout).render(!args.no_headers))
}
