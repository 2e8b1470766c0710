//! `enctl version`: the client's version, then each service's URL and gRPC health
//! (`grpc.health.v1.Health/Check`), checked concurrently. Exit status 1 when a service is not
//! reachable or not serving, so scripts can wait on it.

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use super::Ctx;
use crate::cli::VersionArgs;
use crate::config::Service;
use crate::error::CliError;
use crate::print::tabwriter::TABLE;

/// The client's version line.
pub fn client_line() -> String {
    format!("Client Version: {}", env!("CARGO_PKG_VERSION"))
}

/// What a health check said: `SERVING`, `NOT_SERVING`, …, or why it could not be asked.
async fn health(ctx: &Ctx, service: Service) -> (String, bool) {
    let c = &ctx.clients;
    let mut api = match c.health(service).await {
        Ok(api) => api,
        Err(e) => return (unreachable(&e), false),
    };
    let answer = c
        .call(
            service,
            api.check(HealthCheckRequest {
                service: String::new(),
            }),
        )
        .await;
    match answer {
        Ok(r) => {
            let status = ServingStatus::try_from(r.status).unwrap_or(ServingStatus::Unknown);
            (
                status.as_str_name().to_string(),
                status == ServingStatus::Serving,
            )
        }
        Err(e) => (unreachable(&e), false),
    }
}

fn unreachable(e: &CliError) -> String {
    match e {
        CliError::Server { status, .. } if e.is_unreachable() => {
            format!("unreachable: {}", status.message())
        }
        CliError::Server { status, .. } => format!("error: {}", status.message()),
        other => format!("error: {other}"),
    }
}

/// Runs `enctl version`.
pub async fn run(ctx: &Ctx, args: VersionArgs) -> Result<(), CliError> {
    ctx.console.line(&client_line())?;
    if args.client {
        return Ok(());
    }
    let (admission, registry, controller) = tokio::join!(
        health(ctx, Service::Admission),
        health(ctx, Service::Registry),
        health(ctx, Service::Controller),
    );
    let mut text = String::from("SERVICE\tURL\tSTATUS\n");
    let mut healthy = true;
    for (service, (status, ok)) in [
        (Service::Admission, admission),
        (Service::Registry, registry),
        (Service::Controller, controller),
    ] {
        healthy &= ok;
        text.push_str(&format!(
            "{service}\t{}\t{status}\n",
            ctx.clients.url(service)
        ));
    }
    ctx.console.print(&TABLE.format(&text))?;
    if healthy {
        Ok(())
    } else {
        Err(CliError::Reported)
    }
}
