//! `enctl get TYPE [NAME...] [-l SELECTOR] [--node N] [-n NS | -A] [-o FORMAT] [-w]`.
//!
//! Without names: one List call (of the namespace, or all with `-A`), printed as a table, a
//! `List` document or names. With names: one Get per name; missing ones are reported after the
//! found ones and make the exit status 1, as kubectl does. With `-w`: the List, then the Watch
//! from the List's version, each change printed as it arrives (filtered to the names, if any).

use everynode_api::v1;
use everynode_core::model::Timestamp;

use super::Ctx;
use super::objects::{self, Item, Query, check_selector, header, service_of};
use crate::cli::{GetArgs, Output};
use crate::error::CliError;
use crate::print::names::Kind;
use crate::print::objects::{json, list, yaml};
use crate::print::table::{Layout, Table};
use crate::print::tabwriter::StreamColumns;

/// Runs `enctl get`.
pub async fn run(ctx: &Ctx, args: GetArgs) -> Result<(), CliError> {
    let (kind, names) = crate::args::targets(&args.targets)?;
    let selector = args.selector.clone().unwrap_or_default();
    if !names.is_empty() && !selector.is_empty() {
        return Err(CliError::Usage(
            "name cannot be provided when a selector is specified".into(),
        ));
    }
    if !names.is_empty() && args.all_namespaces && kind.namespaced() {
        return Err(CliError::Usage(
            "a resource cannot be retrieved by name across all namespaces".into(),
        ));
    }
    if args.node.is_some() && kind != Kind::Pod {
        return Err(CliError::Usage("--node applies to pods only".into()));
    }
    check_selector(&selector)?;
    let query = Query {
        namespace: if args.all_namespaces {
            String::new()
        } else {
            ctx.namespace()
        },
        selector,
        node: args.node.clone().unwrap_or_default(),
    };
    let layout = Layout {
        wide: args.output == Output::Wide,
        namespace: args.all_namespaces && kind.namespaced(),
    };

    let mut failures = Vec::new();
    let (items, version) = if names.is_empty() || args.watch {
        let (items, version) = objects::list(ctx, kind, &query).await?;
        if names.is_empty() {
            (items, version)
        } else {
            let found: Vec<Item> = items
                .into_iter()
                .filter(|i| names.iter().any(|n| n == i.name()))
                .collect();
            for name in names
                .iter()
                .filter(|n| !found.iter().any(|i| i.name() == **n))
            {
                failures.push(not_found(kind, name));
            }
            (found, version)
        }
    } else {
        let mut found = Vec::new();
        for name in &names {
            match objects::get(ctx, kind, &query.namespace, name).await {
                Ok(item) => found.push(item),
                Err(e) if e.is_not_found() => failures.push(e.render()),
                Err(e) => return Err(e),
            }
        }
        (found, String::new())
    };

    let view = View {
        kind,
        query: &query,
        names: &names,
        args: &args,
        layout,
    };
    let printed_header = view.print(ctx, &items)?;
    for failure in &failures {
        ctx.console.warn(failure);
    }
    if !failures.is_empty() {
        return Err(CliError::Reported);
    }
    if args.watch {
        view.watch(ctx, version, printed_header, &items).await?;
    }
    Ok(())
}

fn not_found(kind: Kind, name: &str) -> String {
    format!(
        "Error from server (NotFound): {} {name:?} not found",
        kind.plural()
    )
}

/// `No resources found in NS namespace.` (kubectl's stderr note for an empty table).
pub fn no_resources(kind: Kind, namespace: &str) -> String {
    if kind.namespaced() && !namespace.is_empty() {
        format!("No resources found in {namespace} namespace.")
    } else {
        "No resources found".to_string()
    }
}

/// What is being shown, and how.
struct View<'a> {
    kind: Kind,
    query: &'a Query,
    names: &'a [String],
    args: &'a GetArgs,
    layout: Layout,
}

impl View<'_> {
    /// Prints the items; returns whether a table header was printed.
    fn print(&self, ctx: &Ctx, items: &[Item]) -> Result<bool, CliError> {
        let single = self.names.len() == 1;
        match self.args.output {
            Output::Table | Output::Wide => {
                if items.is_empty() {
                    if !single {
                        ctx.console
                            .warn(&no_resources(self.kind, &self.query.namespace));
                    }
                    return Ok(false);
                }
                let now = Timestamp::now();
                let table = Table {
                    header: header(self.kind, self.layout),
                    rows: items.iter().map(|i| i.row(self.layout, now)).collect(),
                };
                ctx.console.print(&table.render(!self.args.no_headers))?;
                Ok(!self.args.no_headers)
            }
            Output::Json | Output::Yaml => {
                if single && items.is_empty() {
                    return Ok(false);
                }
                let value = match items {
                    [one] if single => one.value(),
                    _ => list(items.iter().map(Item::value).collect()),
                };
                let text = if self.args.output == Output::Json {
                    json(&value)
                } else {
                    yaml(&value)
                };
                ctx.console.print(&text)?;
                Ok(false)
            }
            Output::Name => {
                for item in items {
                    ctx.console.line(&self.kind.slash_name(item.name()))?;
                }
                Ok(false)
            }
        }
    }

    /// Follows the Watch from `version`, printing each change of the selected objects; the
    /// table keeps the columns of what was printed before (`printed`, under a header if
    /// `header_printed`).
    async fn watch(
        &self,
        ctx: &Ctx,
        version: String,
        header_printed: bool,
        printed: &[Item],
    ) -> Result<(), CliError> {
        let head = header(self.kind, self.layout);
        let at = Timestamp::now();
        let rows: Vec<Vec<String>> = printed.iter().map(|i| i.row(self.layout, at)).collect();
        let mut columns = StreamColumns::from_rows(
            std::iter::once(head.as_slice())
                .filter(|_| header_printed)
                .chain(rows.iter().map(Vec::as_slice)),
        );
        let mut header_printed = header_printed || self.args.no_headers;
        let mut on_change = |item: Item| -> Result<(), CliError> {
            if !self.names.is_empty() && !self.names.iter().any(|n| n == item.name()) {
                return Ok(());
            }
            match self.args.output {
                Output::Table | Output::Wide => {
                    let row = item.row(self.layout, Timestamp::now());
                    if !header_printed {
                        columns = StreamColumns::from_rows([head.as_slice(), row.as_slice()]);
                        ctx.console.line(&columns.line(&head))?;
                        header_printed = true;
                    }
                    ctx.console.line(&columns.line(&row))
                }
                Output::Json => ctx.console.print(&json(&item.value())),
                Output::Yaml => ctx.console.print(&format!("---\n{}", yaml(&item.value()))),
                Output::Name => ctx.console.line(&self.kind.slash_name(item.name())),
            }
        };

        let c = &ctx.clients;
        let service = service_of(self.kind);
        let fail = |status| c.status_error(service, status);
        let bookmark = v1::WatchEventType::Bookmark as i32;
        let q = self.query;
        match self.kind {
            Kind::DaemonSet => {
                let mut api = c.daemon_sets().await?;
                let request = v1::DaemonSetsWatchRequest {
                    namespace: q.namespace.clone(),
                    label_selector: q.selector.clone(),
                    resource_version: version,
                };
                let mut stream = c.call_within(service, None, api.watch(request)).await?;
                while let Some(event) = stream.message().await.map_err(fail)? {
                    if let Some(object) = event.object.filter(|_| event.r#type != bookmark) {
                        on_change(Item::DaemonSet(Box::new(object)))?;
                    }
                }
            }
            Kind::Node => {
                let mut api = c.nodes().await?;
                let request = v1::NodesWatchRequest {
                    label_selector: q.selector.clone(),
                    resource_version: version,
                };
                let mut stream = c.call_within(service, None, api.watch(request)).await?;
                while let Some(event) = stream.message().await.map_err(fail)? {
                    if let Some(object) = event.object.filter(|_| event.r#type != bookmark) {
                        on_change(Item::Node(Box::new(object)))?;
                    }
                }
            }
            Kind::Pod => {
                let mut api = c.pods().await?;
                let request = v1::PodsWatchRequest {
                    namespace: q.namespace.clone(),
                    label_selector: q.selector.clone(),
                    node_name: q.node.clone(),
                    resource_version: version,
                };
                let mut stream = c.call_within(service, None, api.watch(request)).await?;
                while let Some(event) = stream.message().await.map_err(fail)? {
                    if let Some(object) = event.object.filter(|_| event.r#type != bookmark) {
                        on_change(Item::Pod(Box::new(object)))?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tables_say_where_nothing_was_found() {
        assert_eq!(
            no_resources(Kind::DaemonSet, "default"),
            "No resources found in default namespace."
        );
        assert_eq!(no_resources(Kind::Pod, ""), "No resources found");
        assert_eq!(no_resources(Kind::Node, "default"), "No resources found");
        assert_eq!(
            not_found(Kind::DaemonSet, "x"),
            "Error from server (NotFound): daemonsets.apps \"x\" not found"
        );
    }
}
