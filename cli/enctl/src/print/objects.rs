//! `-o json|yaml|name`: objects in Kubernetes' shape (the manifest codec's `to_value`), one
//! object alone or several as a `List`, JSON indented with four spaces as kubectl does.

use everynode_api::manifest::{self, KubeObject};
use serde::Serialize;

/// JSON text indented with four spaces, ending in a newline.
pub fn json(value: &serde_json::Value) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serializing a `serde_json::Value` into memory cannot fail.
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut text = String::from_utf8(buf).unwrap_or_default();
    text.push('\n');
    text
}

/// YAML text, ending in a newline.
pub fn yaml(value: &serde_json::Value) -> String {
    manifest::yaml::to_string(value)
}

/// kubectl's `List` of already converted objects.
pub fn list(items: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": items,
        "metadata": {"resourceVersion": ""},
    })
}

/// One object, or a `List` of them.
pub fn one_or_list<M: KubeObject>(items: &[M], single: bool) -> serde_json::Value {
    match items {
        [one] if single => manifest::to_value(one),
        _ => list(items.iter().map(manifest::to_value).collect()),
    }
}

#[cfg(test)]
mod tests {
    use everynode_api::v1;

    use super::*;

    fn node(name: &str) -> v1::Node {
        v1::Node {
            api_version: "v1".into(),
            kind: "Node".into(),
            metadata: Some(v1::ObjectMeta {
                name: name.into(),
                ..v1::ObjectMeta::default()
            }),
            ..v1::Node::default()
        }
    }

    #[test]
    fn json_is_indented_with_four_spaces() {
        let v = serde_json::json!({"a": {"b": 1}});
        assert_eq!(json(&v), "{\n    \"a\": {\n        \"b\": 1\n    }\n}\n");
    }

    #[test]
    fn one_object_alone_several_as_a_list() {
        let one = one_or_list(&[node("n1")], true);
        assert_eq!(one["kind"], "Node");
        assert_eq!(one["metadata"]["name"], "n1");
        let listed = one_or_list(&[node("n1")], false);
        assert_eq!(listed["kind"], "List");
        assert_eq!(listed["apiVersion"], "v1");
        assert_eq!(listed["items"][0]["metadata"]["name"], "n1");
        let two = one_or_list(&[node("n1"), node("n2")], true);
        assert_eq!(two["items"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn yaml_reads_like_a_manifest() {
        let text = yaml(&manifest::to_value(&node("n1")));
        assert!(text.contains("kind: Node\n"), "{text}");
        assert!(text.contains("metadata:\n  name: n1\n"), "{text}");
    }
}
