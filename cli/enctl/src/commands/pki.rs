//! `enctl pki init DIR` and `enctl pki node NAME DIR`: the deployment's certificate authority
//! and identities on disk, made by `everynode_auth::pki` (files `0600`, folders `0700`, nothing
//! ever overwritten). This module only turns the arguments into the library's options and its
//! report into lines: what was written, or that nothing changed.

use std::path::Path;

use everynode_auth::nats_cluster::{self, CLUSTER_CONF_FILE};
use everynode_auth::pki::{self, CA_CERT, CA_KEY, InitOptions, Report};

use crate::cli::{PkiCommand, PkiInitArgs, PkiNodeArgs};
use crate::console::Console;
use crate::error::CliError;

/// The files of an identity folder, as the report lists them.
const IDENTITY_FILES: &str = "ca.crt, tls.crt, tls.key, nats.creds";

/// Runs `enctl pki …`.
pub fn run(console: &Console, command: PkiCommand) -> Result<(), CliError> {
    match command {
        PkiCommand::Init(args) => init(console, args),
        PkiCommand::Node(args) => node(console, args),
    }
}

fn init(console: &Console, args: PkiInitArgs) -> Result<(), CliError> {
    let options = InitOptions {
        sans: args.sans,
        nodes: args.nodes,
        validity: args.validity,
        nats_cluster: args.nats_cluster,
    };
    let report = pki::init(&args.dir, &options)?;
    console.print(&init_report(
        &args.dir,
        &report,
        !options.nats_cluster.is_empty(),
    ))?;
    if report == Report::Unchanged && !options.nodes.is_empty() {
        console.warn(&format!(
            "to add nodes to it: enctl pki node NAME {}",
            args.dir.display()
        ));
    }
    if !options.nats_cluster.is_empty() {
        warn_other_members(console, &args.dir, &options.nats_cluster);
    }
    Ok(())
}

/// An existing `nats-cluster.conf` is never rewritten; says so if it lists other members than
/// the ones asked for.
fn warn_other_members(console: &Console, dir: &Path, asked: &[String]) {
    let path = dir.join(CLUSTER_CONF_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let listed = nats_cluster::members_of(&text);
    let mut same = (listed.clone(), asked.to_vec());
    same.0.sort();
    same.1.sort();
    if same.0 != same.1 {
        console.warn(&format!(
            "{} was left as it is; it lists the members {}. To change them, remove it, run \
             pki init again and give every member the new file.",
            path.display(),
            listed.join(",")
        ));
    }
}

fn node(console: &Console, args: PkiNodeArgs) -> Result<(), CliError> {
    let report = pki::add_node(&args.dir, &args.name, args.validity)?;
    console.print(&node_report(&args.dir, &args.name, &report))
}

fn folder_line(dir: &Path, folder: &str) -> String {
    format!("  {}/ ({IDENTITY_FILES})\n", dir.join(folder).display())
}

/// What `pki init` says it did (`cluster`: members were given with `--nats-cluster`).
pub fn init_report(dir: &Path, report: &Report, cluster: bool) -> String {
    let folders = match report {
        Report::Unchanged => {
            return format!(
                "{} already holds a PKI: nothing was changed\n",
                dir.display()
            );
        }
        Report::NatsAdded(files) => {
            let mut out = format!(
                "{} already holds a PKI; added the missing NATS files:\n",
                dir.display()
            );
            for file in files {
                out.push_str(&format!("  {}\n", dir.join(file).display()));
            }
            out.push_str(&nats_server_line(dir, cluster));
            return out;
        }
        Report::Created(folders) => folders,
    };
    let mut out = format!("created a PKI in {}:\n", dir.display());
    out.push_str(&format!(
        "  {}, {} (the certificate authority: keep {CA_KEY} secret)\n",
        dir.join(CA_CERT).display(),
        dir.join(CA_KEY).display()
    ));
    for folder in folders {
        out.push_str(&folder_line(dir, folder));
    }
    out.push_str(&format!(
        "  {}/ (NATS operator, account and node-signer seeds: keep them secret)\n",
        dir.join(pki::NATS_DIR).display()
    ));
    if cluster {
        out.push_str(&format!(
            "  {} (the NATS cluster's routes and route password: keep it secret)\n",
            dir.join(CLUSTER_CONF_FILE).display()
        ));
    }
    out.push_str(&nats_server_line(dir, cluster));
    out.push_str(&format!(
        "Start each service with --credentials {}/<service>, each agent with --credentials \
         {}/node-<name>; run enctl with --credentials {}.\n",
        dir.display(),
        dir.display(),
        dir.join("admin").display()
    ));
    out
}

fn nats_server_line(dir: &Path, cluster: bool) -> String {
    if cluster {
        return format!(
            "Run each NATS member with a configuration that includes {} and {} (as \
             deploy/nats/server.conf does): nats-server -c FILE --server_name NAME -p 4222 -js \
             -sd STORE\n",
            dir.join(pki::NATS_SERVER_CONF).display(),
            dir.join(CLUSTER_CONF_FILE).display()
        );
    }
    format!(
        "Run NATS with: nats-server -c {} -p 4222 -js -sd STORE\n",
        dir.join(pki::NATS_SERVER_CONF).display()
    )
}

/// What `pki node` says it did.
pub fn node_report(dir: &Path, name: &str, report: &Report) -> String {
    let folder = dir.join(pki::node_folder(name));
    match report {
        Report::Unchanged => format!("{} already exists: nothing was changed\n", folder.display()),
        Report::NatsAdded(_) | Report::Created(_) => format!(
            "created node {name}'s identity:\n{}Start its agent with --credentials {}.\n",
            folder_line(dir, &pki::node_folder(name)),
            folder.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_lists_the_ca_and_every_folder() {
        let report = Report::Created(vec!["admission".into(), "node-n1".into()]);
        assert_eq!(
            init_report(Path::new("/pki"), &report, false),
            "created a PKI in /pki:\n  /pki/ca.crt, /pki/ca.key (the certificate authority: keep ca.key secret)\n  /pki/admission/ (ca.crt, tls.crt, tls.key, nats.creds)\n  /pki/node-n1/ (ca.crt, tls.crt, tls.key, nats.creds)\n  /pki/nats/ (NATS operator, account and node-signer seeds: keep them secret)\nRun NATS with: nats-server -c /pki/nats-server.conf -p 4222 -js -sd STORE\nStart each service with --credentials /pki/<service>, each agent with --credentials /pki/node-<name>; run enctl with --credentials /pki/admin.\n"
        );
        let cluster = init_report(Path::new("/pki"), &report, true);
        assert!(
            cluster.contains(
                "  /pki/nats-cluster.conf (the NATS cluster's routes and route password: keep it secret)\n"
            ),
            "{cluster}"
        );
        assert!(
            cluster.contains("--server_name NAME") && !cluster.contains("Run NATS with"),
            "{cluster}"
        );
        assert_eq!(
            init_report(Path::new("/pki"), &Report::Unchanged, true),
            "/pki already holds a PKI: nothing was changed\n"
        );
    }

    #[test]
    fn node_names_its_folder() {
        let created = Report::Created(vec!["node-n1".into()]);
        assert_eq!(
            node_report(Path::new("/pki"), "n1", &created),
            "created node n1's identity:\n  /pki/node-n1/ (ca.crt, tls.crt, tls.key, nats.creds)\nStart its agent with --credentials /pki/node-n1.\n"
        );
        assert_eq!(
            node_report(Path::new("/pki"), "n1", &Report::Unchanged),
            "/pki/node-n1 already exists: nothing was changed\n"
        );
    }
}
