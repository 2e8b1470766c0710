//! `enctl apply -f FILE|DIR|- [--dry-run=server] [-o json|yaml|name]`: create-or-update.
//!
//! Every input is read and decoded first (YAML or JSON, several documents, `kind: List`); a
//! decode error stops everything before anything is sent, naming the file, field path and line.
//! Then each DaemonSet is applied in order: Create, and on ALREADY_EXISTS a Get and an Update
//! carrying the stored resourceVersion (retried when another writer got in between). The
//! outcome reads like kubectl's: `created`, `configured`, or `unchanged` when the Update stored
//! nothing (same resourceVersion). With `--dry-run=server`, a Get decides between a dry-run
//! Create and a dry-run Update, and the object is compared with the stored one. Objects of other
//! kinds are skipped with a warning; an object the server refuses is reported and the others
//! are still applied (exit status 1).

use std::path::{Path, PathBuf};

use everynode_api::manifest::{self, Document, Object};
use everynode_api::v1;
use everynode_core::model;
use tonic::Code;

use super::Ctx;
use crate::cli::{ApplyArgs, DryRun, ObjectOutput};
use crate::config::Service;
use crate::error::CliError;
use crate::print::names::Kind;
use crate::print::objects::{json, one_or_list, yaml};

/// How many times an update is retried when another writer changed the object in between.
const CONFLICT_RETRIES: usize = 5;

/// What applying one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed.
    Configured,
    /// It existed and already matched.
    Unchanged,
}

impl Outcome {
    /// kubectl's word.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// kubectl's line for an applied object: `daemonset.apps/x created (server dry run)`.
pub fn outcome_line(name: &str, outcome: Outcome, dry_run: bool) -> String {
    let suffix = if dry_run { " (server dry run)" } else { "" };
    format!(
        "{} {}{suffix}",
        Kind::DaemonSet.slash_name(name),
        outcome.word()
    )
}

/// kubectl's warning for an object of a kind everynode does not store.
pub fn skip_line(kind: &str, name: &str) -> String {
    format!("skipping {kind}/{name}: everynode stores DaemonSets only")
}

/// One input: where it came from and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as given, or `STDIN`.
    pub name: String,
    /// Its text.
    pub text: String,
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn collect_dir(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CliError::Read {
        what: format!("directory {:?}", dir.display()),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            if recursive {
                collect_dir(&path, recursive, out)?;
            }
        } else if is_manifest(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads every `-f` argument: a file, a directory's `.yaml`/`.yml`/`.json` files (sorted,
/// recursively with `-R`), or `-` for stdin.
pub fn read_sources(files: &[String], recursive: bool) -> Result<Vec<Source>, CliError> {
    let mut sources = Vec::new();
    for arg in files {
        if arg == "-" {
            let text =
                std::io::read_to_string(std::io::stdin()).map_err(|source| CliError::Read {
                    what: "STDIN".into(),
                    source,
                })?;
            sources.push(Source {
                name: "STDIN".into(),
                text,
            });
            continue;
        }
        let path = Path::new(arg);
        if !path.exists() {
            return Err(CliError::NoSuchPath(arg.clone()));
        }
        let mut paths = Vec::new();
        if path.is_dir() {
            collect_dir(path, recursive, &mut paths)?;
        } else {
            paths.push(path.to_path_buf());
        }
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|source| CliError::Read {
                what: format!("{:?}", p.display()),
                source,
            })?;
            sources.push(Source {
                name: p.display().to_string(),
                text,
            });
        }
    }
    Ok(sources)
}

/// Decodes every source; the first one that does not decode is the error.
pub fn decode_sources(sources: &[Source]) -> Result<Vec<(String, Document)>, CliError> {
    let mut out = Vec::new();
    for source in sources {
        let docs = manifest::decode(&source.text).map_err(|error| CliError::Manifest {
            source_name: source.name.clone(),
            error,
        })?;
        out.extend(docs.into_iter().map(|d| (source.name.clone(), d)));
    }
    Ok(out)
}

/// Puts `ds` in its namespace: the manifest's, else `-n`'s, else `default`; a manifest
/// namespace that differs from an explicit `-n` is refused as kubectl refuses it.
pub fn set_namespace(
    ds: &mut v1::DaemonSet,
    flag: Option<&str>,
    default: &str,
) -> Result<(), CliError> {
    let meta = ds.metadata.get_or_insert_with(v1::ObjectMeta::default);
    match flag.filter(|f| !f.is_empty()) {
        Some(flag) if !meta.namespace.is_empty() && meta.namespace != flag => {
            Err(CliError::Usage(format!(
                "the namespace from the provided object {:?} does not match the namespace {flag:?}. You must pass '--namespace={}' to perform this operation.",
                meta.namespace, meta.namespace
            )))
        }
        _ => {
            if meta.namespace.is_empty() {
                meta.namespace = default.to_string();
            }
            Ok(())
        }
    }
}

/// Runs `enctl apply`.
pub async fn run(ctx: &Ctx, args: ApplyArgs) -> Result<(), CliError> {
    if args.dry_run == DryRun::Client {
        return Err(CliError::Usage(
            "--dry-run=client is not supported: everynode validates and defaults on the server; use --dry-run=server".into(),
        ));
    }
    let dry_run = args.dry_run == DryRun::Server;
    let sources = read_sources(&args.files, args.recursive)?;
    let documents = decode_sources(&sources)?;
    if documents.is_empty() {
        return Err(CliError::Usage("no objects passed to apply".into()));
    }
    let mut failed = false;
    let mut applied = Vec::new();
    for (source, document) in documents {
        let mut ds = match document.object {
            Object::DaemonSet(ds) => *ds,
            Object::Node(n) => {
                let name = n.metadata.map(|m| m.name).unwrap_or_default();
                ctx.console.warn(&skip_line("Node", &name));
                continue;
            }
            Object::Pod(p) => {
                let name = p.metadata.map(|m| m.name).unwrap_or_default();
                ctx.console.warn(&skip_line("Pod", &name));
                continue;
            }
            Object::Other { kind, name, .. } => {
                ctx.console.warn(&skip_line(&kind, &name));
                continue;
            }
        };
        set_namespace(&mut ds, ctx.global.namespace.as_deref(), &ctx.namespace())?;
        match apply_one(ctx, ds, dry_run).await {
            Ok((outcome, stored)) => {
                let name = stored
                    .metadata
                    .as_ref()
                    .map(|m| m.name.clone())
                    .unwrap_or_default();
                match args.output {
                    None => ctx.console.line(&outcome_line(&name, outcome, dry_run))?,
                    Some(ObjectOutput::Name) => {
                        ctx.console.line(&Kind::DaemonSet.slash_name(&name))?;
                    }
                    Some(_) => applied.push(stored),
                }
            }
            Err((_, e)) if e.is_unreachable() || matches!(e, CliError::Failed(_)) => {
                return Err(e);
            }
            Err((verb, e)) => {
                failed = true;
                let e = e.context(format!("error when {verb} {source:?}"));
                ctx.console.warn(&e.render());
            }
        }
    }
    match args.output {
        Some(ObjectOutput::Json) if !applied.is_empty() => {
            ctx.console.print(&json(&one_or_list(&applied, true)))?;
        }
        Some(ObjectOutput::Yaml) if !applied.is_empty() => {
            ctx.console.print(&yaml(&one_or_list(&applied, true)))?;
        }
        _ => {}
    }
    if failed {
        Err(CliError::Reported)
    } else {
        Ok(())
    }
}

type Applied = Result<(Outcome, v1::DaemonSet), (&'static str, CliError)>;

/// Applies one DaemonSet; on failure says what it was doing (`creating`, `updating`, …).
async fn apply_one(ctx: &Ctx, ds: v1::DaemonSet, dry_run: bool) -> Applied {
    let c = &ctx.clients;
    let mut api = c.daemon_sets().await.map_err(|e| ("connecting", e))?;
    let (namespace, name) = ds
        .metadata
        .as_ref()
        .map(|m| (m.namespace.clone(), m.name.clone()))
        .unwrap_or_default();

    if dry_run {
        let current = if name.is_empty() {
            None
        } else {
            match c
                .call(
                    Service::Admission,
                    api.get(v1::DaemonSetsGetRequest {
                        namespace: namespace.clone(),
                        name: name.clone(),
                    }),
                )
                .await
            {
                Ok(r) => r.daemon_set,
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(("retrieving", e)),
            }
        };
        let Some(current) = current else {
            let created = create(ctx, &mut api, ds, true)
                .await
                .map_err(|e| ("creating", e))?;
            return Ok((Outcome::Created, created));
        };
        let desired = carry_over(ds, &current);
        let updated = update(ctx, &mut api, desired, true)
            .await
            .map_err(|e| ("updating", e))?;
        let outcome = if model::DaemonSet::from(updated.clone()) == model::DaemonSet::from(current)
        {
            Outcome::Unchanged
        } else {
            Outcome::Configured
        };
        return Ok((outcome, updated));
    }

    match create(ctx, &mut api, ds.clone(), false).await {
        Ok(created) => return Ok((Outcome::Created, created)),
        Err(e) if e.code() == Some(Code::AlreadyExists) && !name.is_empty() => {}
        Err(e) => return Err(("creating", e)),
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = c
            .call(
                Service::Admission,
                api.get(v1::DaemonSetsGetRequest {
                    namespace: namespace.clone(),
                    name: name.clone(),
                }),
            )
            .await
            .map_err(|e| ("retrieving current configuration of", e))?
            .daemon_set
            .unwrap_or_default();
        let before = version_of(&current);
        let desired = carry_over(ds.clone(), &current);
        match update(ctx, &mut api, desired, false).await {
            Ok(stored) => {
                let outcome = if version_of(&stored) == before {
                    Outcome::Unchanged
                } else {
                    Outcome::Configured
                };
                return Ok((outcome, stored));
            }
            Err(e) if e.code() == Some(Code::Aborted) && attempt < CONFLICT_RETRIES => {}
            Err(e) => return Err(("updating", e)),
        }
    }
}

fn version_of(ds: &v1::DaemonSet) -> String {
    ds.metadata
        .as_ref()
        .map(|m| m.resource_version.clone())
        .unwrap_or_default()
}

/// The desired object as an Update of `current`: the stored resourceVersion (compare-and-set),
/// and the finalizers and owner references the manifest does not mention (apply only changes
/// what the manifest says).
pub fn carry_over(mut desired: v1::DaemonSet, current: &v1::DaemonSet) -> v1::DaemonSet {
    let stored = current.metadata.clone().unwrap_or_default();
    let meta = desired.metadata.get_or_insert_with(v1::ObjectMeta::default);
    meta.resource_version = stored.resource_version;
    if meta.finalizers.is_empty() {
        meta.finalizers = stored.finalizers;
    }
    if meta.owner_references.is_empty() {
        meta.owner_references = stored.owner_references;
    }
    desired
}

async fn create(
    ctx: &Ctx,
    api: &mut v1::daemon_sets_client::DaemonSetsClient<tonic::transport::Channel>,
    ds: v1::DaemonSet,
    dry_run: bool,
) -> Result<v1::DaemonSet, CliError> {
    ctx.clients
        .call(
            Service::Admission,
            api.create(v1::DaemonSetsCreateRequest {
                daemon_set: Some(ds),
                dry_run,
            }),
        )
        .await
        .map(|r| r.daemon_set.unwrap_or_default())
}

async fn update(
    ctx: &Ctx,
    api: &mut v1::daemon_sets_client::DaemonSetsClient<tonic::transport::Channel>,
    ds: v1::DaemonSet,
    dry_run: bool,
) -> Result<v1::DaemonSet, CliError> {
    ctx.clients
        .call(
            Service::Admission,
            api.update(v1::DaemonSetsUpdateRequest {
                daemon_set: Some(ds),
                dry_run,
            }),
        )
        .await
        .map(|r| r.daemon_set.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(namespace: &str) -> v1::DaemonSet {
        v1::DaemonSet {
            metadata: Some(v1::ObjectMeta {
                name: "agent".into(),
                namespace: namespace.into(),
                ..v1::ObjectMeta::default()
            }),
            ..v1::DaemonSet::default()
        }
    }

    fn ns(ds: &v1::DaemonSet) -> &str {
        ds.metadata.as_ref().map_or("", |m| m.namespace.as_str())
    }

    #[test]
    fn lines_read_like_kubectl() {
        assert_eq!(
            outcome_line("agent", Outcome::Created, false),
            "daemonset.apps/agent created"
        );
        assert_eq!(
            outcome_line("agent", Outcome::Unchanged, true),
            "daemonset.apps/agent unchanged (server dry run)"
        );
        assert_eq!(
            skip_line("ConfigMap", "x"),
            "skipping ConfigMap/x: everynode stores DaemonSets only"
        );
    }

    #[test]
    fn namespace_comes_from_manifest_then_flag_then_default() {
        let mut d = ds("");
        set_namespace(&mut d, None, "default").unwrap();
        assert_eq!(ns(&d), "default");
        let mut d = ds("");
        set_namespace(&mut d, Some("infra"), "infra").unwrap();
        assert_eq!(ns(&d), "infra");
        let mut d = ds("monitoring");
        set_namespace(&mut d, None, "default").unwrap();
        assert_eq!(ns(&d), "monitoring");
        let mut d = ds("monitoring");
        let err = set_namespace(&mut d, Some("infra"), "infra").unwrap_err();
        assert!(
            err.render().contains("--namespace=monitoring"),
            "{}",
            err.render()
        );
    }

    #[test]
    fn updates_carry_the_stored_version_finalizers_and_owners() {
        let mut current = ds("default");
        if let Some(m) = current.metadata.as_mut() {
            m.resource_version = "42".into();
            m.finalizers = vec!["orphan".into()];
        }
        let out = carry_over(ds("default"), &current);
        let meta = out.metadata.unwrap_or_default();
        assert_eq!(meta.resource_version, "42");
        assert_eq!(meta.finalizers, ["orphan"]);
    }

    #[test]
    fn directories_give_their_manifests_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "b").unwrap();
        std::fs::write(dir.path().join("a.json"), "a").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub").join("c.yml"), "c").unwrap();
        let arg = vec![dir.path().display().to_string()];
        let flat: Vec<String> = read_sources(&arg, false)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(flat, ["a", "b"]);
        let deep: Vec<String> = read_sources(&arg, true)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(deep, ["a", "b", "c"]);
        let err = read_sources(&["/no/such/file.yaml".to_string()], false).unwrap_err();
        assert_eq!(
            err.render(),
            "error: the path \"/no/such/file.yaml\" does not exist"
        );
    }

    #[test]
    fn decode_errors_name_the_file_and_field() {
        let sources = [Source {
            name: "ds.yaml".into(),
            text: "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: x\nspec:\n  minReadySeconds: soon\n".into(),
        }];
        let err = decode_sources(&sources).unwrap_err().render();
        assert!(
            err.starts_with("error: error parsing ds.yaml: spec.minReadySeconds"),
            "{err}"
        );
    }
}
