//! `enctl auth whoami`: who a service takes the caller for (`everynode.v1.Auth/WhoAmI`), shown
//! as `kubectl auth whoami` shows a `SelfSubjectReview`: an ATTRIBUTE / VALUE table with
//! `Username` and `Groups`, or the review as JSON or YAML.

use everynode_api::v1;

use super::Ctx;
use crate::cli::{AuthCommand, ReviewOutput, WhoamiArgs};
use crate::error::CliError;
use crate::print::objects;
use crate::print::tabwriter::TABLE;

/// Runs `enctl auth …`.
pub async fn run(ctx: &Ctx, command: AuthCommand) -> Result<(), CliError> {
    match command {
        AuthCommand::Whoami(args) => whoami(ctx, args).await,
    }
}

async fn whoami(ctx: &Ctx, args: WhoamiArgs) -> Result<(), CliError> {
    let service = args.service;
    let c = &ctx.clients;
    let mut api = c.auth(service).await?;
    let answer = c
        .call(service, api.who_am_i(v1::AuthWhoAmIRequest {}))
        .await?;
    if answer.insecure {
        ctx.console.warn(&format!(
            "warning: {service} at {} runs with --insecure: nobody is identified and every call is allowed",
            c.url(service)
        ));
    }
    let text = match args.output {
        ReviewOutput::Table => table(&answer),
        ReviewOutput::Json => objects::json(&review(&answer)),
        ReviewOutput::Yaml => objects::yaml(&review(&answer)),
    };
    ctx.console.print(&text)
}

/// kubectl's table: `Username` and `Groups` (as `[a b]`).
pub fn table(answer: &v1::AuthWhoAmIResponse) -> String {
    TABLE.format(&format!(
        "ATTRIBUTE\tVALUE\nUsername\t{}\nGroups\t[{}]\n",
        answer.user,
        answer.groups.join(" ")
    ))
}

/// The answer as Kubernetes' `SelfSubjectReview`.
pub fn review(answer: &v1::AuthWhoAmIResponse) -> serde_json::Value {
    serde_json::json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "status": {
            "userInfo": {
                "username": answer.user,
                "groups": answer.groups,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer() -> v1::AuthWhoAmIResponse {
        v1::AuthWhoAmIResponse {
            user: "viewer".into(),
            groups: vec!["everynode:viewers".into()],
            insecure: false,
        }
    }

    #[test]
    fn the_table_reads_like_kubectl_s() {
        assert_eq!(
            table(&viewer()),
            "ATTRIBUTE   VALUE\nUsername    viewer\nGroups      [everynode:viewers]\n"
        );
        let node = v1::AuthWhoAmIResponse {
            user: "system:node:n1".into(),
            groups: vec!["system:nodes".into(), "extra".into()],
            insecure: false,
        };
        assert!(table(&node).ends_with("Groups      [system:nodes extra]\n"));
    }

    #[test]
    fn the_review_is_kubernetes_shaped() {
        let text = objects::yaml(&review(&viewer()));
        assert_eq!(
            text,
            "apiVersion: authentication.k8s.io/v1\nkind: SelfSubjectReview\nmetadata: {}\nstatus:\n  userInfo:\n    groups:\n    - everynode:viewers\n    username: viewer\n"
        );
        let json = review(&viewer());
        assert_eq!(json["status"]["userInfo"]["username"], "viewer");
        assert_eq!(json["status"]["userInfo"]["groups"][0], "everynode:viewers");
    }
}
