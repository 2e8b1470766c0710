//! `enctl token create [--ttl 1h] [--description TEXT]`: a bootstrap token from the registry
//! (`everynode.v1.Bootstrap/CreateToken`, administrators only), printed alone on stdout as
//! `kubeadm token create` prints it, so scripts can capture it. The registry checks the TTL
//! (at most 7 days) and applies its default (1 hour) when none is given.

use everynode_api::v1;

use super::Ctx;
use crate::cli::{TokenCommand, TokenCreateArgs};
use crate::config::Service;
use crate::error::CliError;

/// Runs `enctl token …`.
pub async fn run(ctx: &Ctx, command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create(args) => create(ctx, &args).await,
    }
}

/// The request `token create` sends.
pub fn create_request(args: &TokenCreateArgs) -> Result<v1::BootstrapCreateTokenRequest, CliError> {
    let ttl = args
        .ttl
        .map(|ttl| {
            prost_types::Duration::try_from(ttl)
                .map_err(|_| CliError::Usage(format!("--ttl {ttl:?} is too long")))
        })
        .transpose()?;
    Ok(v1::BootstrapCreateTokenRequest {
        ttl,
        description: args.description.clone(),
    })
}

async fn create(ctx: &Ctx, args: &TokenCreateArgs) -> Result<(), CliError> {
    let request = create_request(args)?;
    let c = &ctx.clients;
    let mut api = c.bootstrap().await?;
    let answer = c.call(Service::Registry, api.create_token(request)).await?;
    ctx.console.line(&answer.token)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_request_carries_ttl_and_description() {
        let request = create_request(&TokenCreateArgs {
            ttl: Some(Duration::from_secs(2 * 3600)),
            description: "rack 4".into(),
        })
        .unwrap();
        assert_eq!(
            request,
            v1::BootstrapCreateTokenRequest {
                ttl: Some(prost_types::Duration {
                    seconds: 7200,
                    nanos: 0
                }),
                description: "rack 4".into(),
            }
        );
        let sub_second = create_request(&TokenCreateArgs {
            ttl: Some(Duration::from_millis(1500)),
            description: String::new(),
        })
        .unwrap();
        assert_eq!(
            sub_second.ttl,
            Some(prost_types::Duration {
                seconds: 1,
                nanos: 500_000_000
            })
        );
    }

    #[test]
    fn without_ttl_the_registry_decides() {
        let request = create_request(&TokenCreateArgs {
            ttl: None,
            description: String::new(),
        })
        .unwrap();
        assert_eq!(request.ttl, None);
        assert_eq!(request.description, "");
    }

    #[test]
    fn a_ttl_beyond_protobuf_s_range_is_a_usage_error() {
        let err = create_request(&TokenCreateArgs {
            ttl: Some(Duration::MAX),
            description: String::new(),
        })
        .unwrap_err();
        assert!(matches!(err, CliError::Usage(_)), "{err:?}");
    }
}
