//! The Kubernetes manifest codec: Kubernetes YAML or JSON ↔ `everynode.v1` messages.
//!
//! Decoding reads one document or many (`---` separated, or a `kind: List`), reads YAML as the
//! Kubernetes API server does ([`yaml`]), and maps each object onto its message through the
//! descriptor pool: a key is the field whose JSON name it is; keys that no field types are kept
//! verbatim in the object's `extra_fields`, so no field of a real manifest is dropped. Types are
//! checked as Kubernetes checks them (a string field takes a string, an integer field an
//! integer), int-or-string fields take either, quantities take numbers or strings and keep
//! their spelling. Every error names the field path and the line.
//!
//! Encoding writes the Kubernetes shape back: JSON names, unset fields left out, extras inlined,
//! timestamps as RFC 3339, int-or-string values as a number or a string.

mod decode;
mod encode;
pub mod yaml;

use std::fmt;
use std::sync::OnceLock;

use prost_reflect::DescriptorPool;

use crate::v1;

pub use decode::{decode_message, decode_node, decode_one};
pub use encode::{to_value, value_of_dynamic};

/// API versions under which a DaemonSet manifest is accepted.
pub const DAEMONSET_API_VERSIONS: [&str; 3] = ["apps/v1", "apps/v1beta2", "extensions/v1beta1"];

/// The descriptor pool of `everynode.v1` (and the well-known types it imports).
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // The descriptor set is generated at build time from the same files as the code, so it
        // always decodes; a failure here is a build defect, not an input error.
        #[allow(clippy::expect_used)]
        DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET).expect("embedded descriptor set")
    })
}

/// A Kubernetes object kind that has an `everynode.v1` message.
pub trait KubeObject: prost::Message + Default + Sized {
    /// Full protobuf name of the message.
    const MESSAGE: &'static str;
    /// Kubernetes `kind`.
    const KIND: &'static str;
}

impl KubeObject for v1::DaemonSet {
    const MESSAGE: &'static str = "everynode.v1.DaemonSet";
    const KIND: &'static str = "DaemonSet";
}
impl KubeObject for v1::Node {
    const MESSAGE: &'static str = "everynode.v1.Node";
    const KIND: &'static str = "Node";
}
impl KubeObject for v1::Pod {
    const MESSAGE: &'static str = "everynode.v1.Pod";
    const KIND: &'static str = "Pod";
}
impl KubeObject for v1::ControllerRevision {
    const MESSAGE: &'static str = "everynode.v1.ControllerRevision";
    const KIND: &'static str = "ControllerRevision";
}

/// One error of a manifest: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field path in Kubernetes' notation, e.g. `spec.template.spec.containers[0].image`.
    pub path: String,
    /// Line (1-based) of the offending value, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        Ok(())
    }
}

/// Every error found in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    /// The errors, in document order.
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ManifestError {
    fn single(path: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            errors: vec![FieldError {
                path: path.to_string(),
                line,
                message: message.into(),
            }],
        }
    }
}

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// A DaemonSet, as given (its `apiVersion` says which API version's rules apply).
    DaemonSet(Box<v1::DaemonSet>),
    /// A node.
    Node(Box<v1::Node>),
    /// A pod.
    Pod(Box<v1::Pod>),
    /// A kind everynode does not store (ConfigMap, ServiceAccount, RBAC, …), named so that the
    /// caller can say it skipped it.
    Other {
        /// `apiVersion` of the object.
        api_version: String,
        /// `kind` of the object.
        kind: String,
        /// `metadata.name`, if any.
        name: String,
    },
}

/// An object and the line its document starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The object.
    pub object: Object,
    /// First line of the object.
    pub line: usize,
}

/// Decodes every object of a YAML or JSON text: one document, several `---`-separated ones, or
/// `kind: List` documents (flattened). Empty documents are skipped. All errors of all
/// documents are reported together.
pub fn decode(text: &str) -> Result<Vec<Document>, ManifestError> {
    let nodes = yaml::parse_documents(text)
        .map_err(|e| ManifestError::single("", Some(e.line), e.message))?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for node in nodes.into_iter().flatten() {
        decode_document(&node, "", &mut out, &mut errors);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ManifestError { errors })
    }
}

/// Decodes a text that must hold DaemonSets only (other kinds are an error).
pub fn decode_daemon_sets(text: &str) -> Result<Vec<v1::DaemonSet>, ManifestError> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for doc in decode(text)? {
        match doc.object {
            Object::DaemonSet(ds) => out.push(*ds),
            Object::Node(_) | Object::Pod(_) | Object::Other { .. } => errors.push(FieldError {
                path: "kind".into(),
                line: Some(doc.line),
                message: "expected a DaemonSet".into(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ManifestError { errors })
    }
}

fn decode_document(
    node: &yaml::Node,
    prefix: &str,
    out: &mut Vec<Document>,
    errors: &mut Vec<FieldError>,
) {
    let string_of = |key: &str| match node.get(key).map(|n| &n.value) {
        Some(yaml::Value::Scalar(yaml::Scalar::Str(s), _)) => s.clone(),
        _ => String::new(),
    };
    if !matches!(node.value, yaml::Value::Map(_)) {
        errors.push(FieldError {
            path: prefix.to_string(),
            line: Some(node.line),
            message: "expected an object with apiVersion and kind".into(),
        });
        return;
    }
    let (api_version, kind) = (string_of("apiVersion"), string_of("kind"));
    let field = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    if kind.is_empty() {
        errors.push(FieldError {
            path: field("kind"),
            line: Some(node.line),
            message: "Required value".into(),
        });
        return;
    }
    if api_version.is_empty() {
        errors.push(FieldError {
            path: field("apiVersion"),
            line: Some(node.line),
            message: "Required value".into(),
        });
        return;
    }
    let object = match kind.as_str() {
        "List" | "DaemonSetList" | "NodeList" | "PodList" => {
            match node.get("items").map(|n| &n.value) {
                Some(yaml::Value::Seq(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        decode_document(item, &format!("{}[{i}]", field("items")), out, errors);
                    }
                }
                None => {}
                Some(_) => errors.push(FieldError {
                    path: field("items"),
                    line: Some(node.line),
                    message: "expected array".into(),
                }),
            }
            return;
        }
        "DaemonSet" if !DAEMONSET_API_VERSIONS.contains(&api_version.as_str()) => {
            errors.push(FieldError {
                path: field("apiVersion"),
                line: node.get("apiVersion").map(|n| n.line),
                message: format!(
                    "Unsupported value: {api_version:?}: supported values: {}",
                    quoted_list(&DAEMONSET_API_VERSIONS)
                ),
            });
            return;
        }
        "DaemonSet" => decode_node::<v1::DaemonSet>(node, prefix, errors)
            .map(|m| Object::DaemonSet(Box::new(m))),
        "Node" if api_version == "v1" => {
            decode_node::<v1::Node>(node, prefix, errors).map(|m| Object::Node(Box::new(m)))
        }
        "Pod" if api_version == "v1" => {
            decode_node::<v1::Pod>(node, prefix, errors).map(|m| Object::Pod(Box::new(m)))
        }
        _ => {
            let name = node
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(|n| match &n.value {
                    yaml::Value::Scalar(yaml::Scalar::Str(s), _) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            Some(Object::Other {
                api_version,
                kind,
                name,
            })
        }
    };
    if let Some(object) = object {
        out.push(Document {
            object,
            line: node.line,
        });
    }
}

fn quoted_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The object in Kubernetes' JSON shape, pretty-printed.
pub fn to_json<M: KubeObject>(message: &M) -> String {
    pretty(&to_value(message))
}

/// The object in Kubernetes' YAML shape.
pub fn to_yaml<M: KubeObject>(message: &M) -> String {
    yaml::to_string(&to_value(message))
}

/// A Kubernetes `List` of objects, as kubectl prints several objects.
pub fn list_value<M: KubeObject>(items: &[M]) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": items.iter().map(to_value).collect::<Vec<_>>(),
        "metadata": {"resourceVersion": ""},
    })
}

/// Pretty JSON text of a value.
pub fn pretty(value: &serde_json::Value) -> String {
    // Serializing a `serde_json::Value` cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_default()
}
