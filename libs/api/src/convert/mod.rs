//! Conversions between the generated `everynode.v1` messages ([`crate::v1`]) and
//! `everynode_core`'s domain model ([`everynode_core::model`]): the one place where protobuf meets
//! the domain. Services and the CLI speak protobuf on the wire and the domain model in their
//! logic, and convert only here.
//!
//! Every conversion destructures its source exhaustively (no `..`), so a field added to the proto
//! or to the model fails to compile here instead of being silently dropped. Conversions are total:
//! they never fail; anything a value may get wrong is left for validation to report.
//!
//! This module holds the shared pieces (Struct/Value ↔ JSON, `extra_fields`, timestamps,
//! int-or-string); the `From` impls live in one submodule per proto file or message family:
//! `meta` (meta.proto), `pod`, `container`, `affinity` and `pod_status` (pod.proto), `node`
//! (node.proto) and `daemonset` (daemonset.proto).
//!
//! Choices made here, which callers can rely on:
//! - `extra_fields`: an absent `Struct` and an empty one both become an empty [`model::Extra`];
//!   an empty `Extra` becomes an absent `Struct`. Round trips are therefore stable.
//! - `google.protobuf.Struct`/`Value` ↔ JSON ([`struct_to_json`], [`value_to_json`], …): a proto
//!   number is an `f64`; one that is integral and within ±2^53 comes back as a JSON integer, any
//!   other finite number as a JSON float, NaN and ±infinity (which JSON cannot hold) as `null`. A
//!   `Value` with no kind set is `null`. JSON integers beyond ±2^53 lose precision on the way to
//!   the proto (they become the nearest `f64`).
//! - int-or-string (`maxUnavailable`, `maxSurge`, probe ports), see [`int_or_string_from_value`]:
//!   an integral number in `i32` range is `Int`; any other number is kept as `Str` of its decimal
//!   text (e.g. `"1.5"`) so validation can report it; a string is `Str` as given; `null`, a bool,
//!   a list or a struct is treated as absent (`None`), as Kubernetes would refuse to decode them.
//! - timestamps are normalized on the way in (`nanos` in `0..1e9`), so the model's ordering holds.
//! - [`model::ContainerState`] is an enum: a proto state with several states set keeps terminated
//!   over running over waiting; a proto state with none set becomes `None`.

use everynode_core::model;
use prost_types::value::Kind;

/// 2^53: integral `f64`s up to this magnitude are exact, so they convert to JSON integers.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

// ---------------------------------------------------------------------------------------------
// Struct / Value ↔ JSON
// ---------------------------------------------------------------------------------------------

/// Converts a `google.protobuf.Struct` to a JSON object; see the module docs for numbers.
pub fn struct_to_json(value: prost_types::Struct) -> serde_json::Map<String, serde_json::Value> {
    let prost_types::Struct { fields } = value;
    fields
        .into_iter()
        .map(|(key, value)| (key, value_to_json(value)))
        .collect()
}

/// Converts a JSON object to a `google.protobuf.Struct`; see the module docs for numbers.
pub fn json_to_struct(value: serde_json::Map<String, serde_json::Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: value
            .into_iter()
            .map(|(key, value)| (key, json_to_value(value)))
            .collect(),
    }
}

/// Converts a `google.protobuf.Value` to JSON. A value with no kind is `null`; an integral number
/// within ±2^53 is a JSON integer; NaN and ±infinity are `null`.
pub fn value_to_json(value: prost_types::Value) -> serde_json::Value {
    let prost_types::Value { kind } = value;
    match kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::NumberValue(n)) => number_to_json(n),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        Some(Kind::StructValue(s)) => serde_json::Value::Object(struct_to_json(s)),
        Some(Kind::ListValue(prost_types::ListValue { values })) => {
            serde_json::Value::Array(values.into_iter().map(value_to_json).collect())
        }
    }
}

/// Converts JSON to a `google.protobuf.Value`. Numbers become `f64` (integers beyond ±2^53 lose
/// precision).
pub fn json_to_value(value: serde_json::Value) -> prost_types::Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(prost_types::NullValue::NullValue.into()),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        // `as_f64` is `None` only with serde_json's `arbitrary_precision` for a number no `f64`
        // holds; keep its text rather than invent a value.
        serde_json::Value::Number(n) => n
            .as_f64()
            .map_or_else(|| Kind::StringValue(n.to_string()), Kind::NumberValue),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(json_to_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A proto number as JSON: an integer when it is one exactly, else a float, else `null`.
fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        // Exact: integral and within ±2^53.
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// Converts an optional `extra_fields` struct to the model's [`model::Extra`]; absent is empty.
pub fn extra_from_struct(value: Option<prost_types::Struct>) -> model::Extra {
    value.map_or_else(model::Extra::new, |s| {
        let prost_types::Struct { fields } = s;
        fields
            .into_iter()
            .map(|(key, value)| (key, value_to_json(value)))
            .collect()
    })
}

/// Converts the model's [`model::Extra`] to an optional `extra_fields` struct; empty is absent.
pub fn extra_to_struct(value: model::Extra) -> Option<prost_types::Struct> {
    if value.is_empty() {
        return None;
    }
    Some(prost_types::Struct {
        fields: value
            .into_iter()
            .map(|(key, value)| (key, json_to_value(value)))
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Timestamps and int-or-string
// ---------------------------------------------------------------------------------------------

/// Converts a `google.protobuf.Timestamp`, normalizing it so that `nanos` is in `0..1e9`.
pub fn timestamp_from_proto(value: prost_types::Timestamp) -> model::Timestamp {
    let prost_types::Timestamp { seconds, nanos } = value.normalized();
    model::Timestamp { seconds, nanos }
}

/// Converts a model timestamp to a `google.protobuf.Timestamp`.
pub fn timestamp_to_proto(value: model::Timestamp) -> prost_types::Timestamp {
    let model::Timestamp { seconds, nanos } = value;
    prost_types::Timestamp { seconds, nanos }
}

fn ts_in(value: Option<prost_types::Timestamp>) -> Option<model::Timestamp> {
    value.map(timestamp_from_proto)
}

fn ts_out(value: Option<model::Timestamp>) -> Option<prost_types::Timestamp> {
    value.map(timestamp_to_proto)
}

/// Reads an int-or-string `google.protobuf.Value`: an integral number in `i32` range is `Int`;
/// any other number is `Str` of its decimal text (`"1.5"`, `"3000000000"`, `"NaN"`) so that
/// validation can report it as given; a string is `Str`; `null`, bool, list, struct or no kind
/// is `None` (absent).
pub fn int_or_string_from_value(value: prost_types::Value) -> Option<model::IntOrString> {
    let prost_types::Value { kind } = value;
    match kind? {
        Kind::NumberValue(n) => {
            if n.fract() == 0.0 && n >= f64::from(i32::MIN) && n <= f64::from(i32::MAX) {
                // Exact: integral and within i32.
                Some(model::IntOrString::Int(n as i32))
            } else {
                Some(model::IntOrString::Str(n.to_string()))
            }
        }
        Kind::StringValue(s) => Some(model::IntOrString::Str(s)),
        Kind::NullValue(_) | Kind::BoolValue(_) | Kind::StructValue(_) | Kind::ListValue(_) => None,
    }
}

/// Writes an int-or-string as a `google.protobuf.Value`: a number for `Int`, a string for `Str`.
pub fn int_or_string_to_value(value: model::IntOrString) -> prost_types::Value {
    let kind = match value {
        model::IntOrString::Int(n) => Kind::NumberValue(f64::from(n)),
        model::IntOrString::Str(s) => Kind::StringValue(s),
    };
    prost_types::Value { kind: Some(kind) }
}

fn ios_in(value: Option<prost_types::Value>) -> Option<model::IntOrString> {
    value.and_then(int_or_string_from_value)
}

fn ios_out(value: Option<model::IntOrString>) -> Option<prost_types::Value> {
    value.map(int_or_string_to_value)
}

// ---------------------------------------------------------------------------------------------
// Small helpers for nested messages
// ---------------------------------------------------------------------------------------------

fn opt<T, U: From<T>>(value: Option<T>) -> Option<U> {
    value.map(U::from)
}

fn vec<T, U: From<T>>(value: Vec<T>) -> Vec<U> {
    value.into_iter().map(U::from).collect()
}

mod affinity;
mod container;
mod daemonset;
mod meta;
mod node;
mod pod;
mod pod_status;
mod security;

#[cfg(test)]
mod tests;
