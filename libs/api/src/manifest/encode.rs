//! Protobuf messages → Kubernetes-shaped JSON values.
//!
//! Fields are written under their JSON names in declaration order, unset fields are left out,
//! the keys kept in `extra_fields` are written back inline, integers are JSON numbers (not the
//! strings proto3 JSON uses for 64-bit values), and the well-known types take their proto3 JSON
//! form: timestamps as RFC 3339 strings, int-or-string values as a number or a string;
//! `Struct` and `Value` go through [`crate::convert`]'s JSON mapping.
//!
//! `everynode_core`'s planner writes pod templates to JSON with an encoder of its own (core has
//! no protobuf, and the revision data and template hash come from it); see
//! `everynode_core::planner::template_to_json` for why both exist. The tests of this crate
//! (`convert` unit tests and `tests/template_json.rs`) hold the two to the same output.

use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage, Value};

use super::decode::EXTRA_FIELDS;
use super::{KubeObject, descriptor_pool};
use crate::convert;

/// The object as a Kubernetes-shaped JSON value.
pub fn to_value<M: KubeObject>(message: &M) -> serde_json::Value {
    let Some(desc) = descriptor_pool().get_message_by_name(M::MESSAGE) else {
        return serde_json::Value::Null;
    };
    let mut dynamic = DynamicMessage::new(desc);
    match dynamic.transcode_from(message) {
        Ok(()) => value_of_dynamic(&dynamic),
        Err(_) => serde_json::Value::Null,
    }
}

/// A dynamic message as a Kubernetes-shaped JSON value.
pub fn value_of_dynamic(message: &DynamicMessage) -> serde_json::Value {
    let desc = message.descriptor();
    match desc.full_name() {
        "google.protobuf.Timestamp" => {
            return serde_json::to_value(message).unwrap_or_default();
        }
        // Struct and Value go through the conversions' one JSON mapping (whole numbers within
        // 2^53 as integers, as the manifest had them).
        "google.protobuf.Value" => {
            return message
                .transcode_to::<prost_types::Value>()
                .map_or(serde_json::Value::Null, convert::value_to_json);
        }
        "google.protobuf.Struct" => {
            return message
                .transcode_to::<prost_types::Struct>()
                .map_or(serde_json::Value::Null, |s| {
                    serde_json::Value::Object(convert::struct_to_json(s))
                });
        }
        _ => {}
    }
    let mut out = serde_json::Map::new();
    let mut extra = None;
    for field in desc.fields() {
        if !message.has_field(&field) {
            continue;
        }
        let value = message.get_field(&field);
        if field.name() == EXTRA_FIELDS {
            extra = Some(value_of(&value, &field.kind()));
            continue;
        }
        out.insert(
            field.json_name().to_string(),
            value_of(&value, &field.kind()),
        );
    }
    if let Some(serde_json::Value::Object(extra)) = extra {
        for (k, v) in extra {
            // A typed field always wins over an extra of the same name.
            out.entry(k).or_insert(v);
        }
    }
    serde_json::Value::Object(out)
}

fn value_of(value: &Value, kind: &Kind) -> serde_json::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::I32(i) => (*i).into(),
        Value::I64(i) => (*i).into(),
        Value::U32(i) => (*i).into(),
        Value::U64(i) => (*i).into(),
        Value::F32(f) => f64::from(*f).into(),
        Value::F64(f) => (*f).into(),
        Value::String(s) => s.clone().into(),
        Value::Bytes(b) => serde_json::Value::Array(b.iter().map(|x| (*x).into()).collect()),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| (*n).into(), |v| v.name().to_string().into()),
            _ => (*n).into(),
        },
        Value::Message(m) => value_of_dynamic(m),
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(|v| value_of(v, kind)).collect())
        }
        Value::Map(map) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut entries: Vec<(String, serde_json::Value)> = map
                .iter()
                .map(|(k, v)| (map_key(k), value_of(v, &value_kind)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().collect())
        }
    }
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(i) => i.to_string(),
        MapKey::I64(i) => i.to_string(),
        MapKey::U32(i) => i.to_string(),
        MapKey::U64(i) => i.to_string(),
        MapKey::String(s) => s.clone(),
    }
}
