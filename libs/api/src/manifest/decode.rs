//! YAML nodes → protobuf messages, through the descriptor pool.
//!
//! Each mapping key is looked up by JSON name (Kubernetes spells fields in camelCase, and so do
//! the `json_name`s of the contract); keys no field types go into the message's `extra_fields`
//! verbatim. Scalars must have the type Kubernetes' decoder demands; every mismatch is recorded
//! with its field path and line, and decoding goes on to find the others.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};

use super::yaml::{self, Node, Scalar};
use super::{FieldError, KubeObject, ManifestError, descriptor_pool};

/// Name of the field that keeps the keys a message does not type.
pub(crate) const EXTRA_FIELDS: &str = "extra_fields";

/// Map fields whose values are Kubernetes quantities: a YAML number is read as its text.
const QUANTITY_MAPS: [&str; 4] = [
    "everynode.v1.ResourceRequirements.limits",
    "everynode.v1.ResourceRequirements.requests",
    "everynode.v1.NodeStatus.capacity",
    "everynode.v1.NodeStatus.allocatable",
];

/// Scalar fields whose values are Kubernetes quantities: a YAML number is read as its text.
const QUANTITY_FIELDS: [&str; 1] = ["everynode.v1.EmptyDirVolumeSource.size_limit"];

/// Fields typed after manifests had been stored with them kept verbatim: an explicit `null`
/// given for one of them (or for any field of their messages) stays in `extra_fields` as it
/// was, so that a manifest read back, and the pod template hash, are what they were before
/// the field was typed.
const NULL_KEPT_FIELDS: [&str; 4] = [
    "everynode.v1.PodSpec.security_context",
    "everynode.v1.Container.security_context",
    "everynode.v1.Volume.host_path",
    "everynode.v1.Volume.empty_dir",
];
/// Messages typed after manifests had been stored with them kept verbatim (see
/// [`NULL_KEPT_FIELDS`]).
const NULL_KEPT_MESSAGES: [&str; 5] = [
    "everynode.v1.PodSecurityContext",
    "everynode.v1.SecurityContext",
    "everynode.v1.Capabilities",
    "everynode.v1.HostPathVolumeSource",
    "everynode.v1.EmptyDirVolumeSource",
];

fn keeps_null(desc: &MessageDescriptor, field: &FieldDescriptor) -> bool {
    NULL_KEPT_MESSAGES.contains(&desc.full_name()) || NULL_KEPT_FIELDS.contains(&field.full_name())
}

/// Decodes a node into `M`, recording errors under `prefix`. Returns `None` when it had errors.
pub fn decode_node<M: KubeObject>(
    node: &Node,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Option<M> {
    let Some(desc) = descriptor_pool().get_message_by_name(M::MESSAGE) else {
        errors.push(FieldError {
            path: prefix.into(),
            line: Some(node.line),
            message: format!("no descriptor for {}", M::MESSAGE),
        });
        return None;
    };
    let before = errors.len();
    let mut path = prefix.to_string();
    let message = decode_message(node, &desc, &mut path, errors)?;
    if errors.len() > before {
        return None;
    }
    match message.transcode_to::<M>() {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(FieldError {
                path: prefix.into(),
                line: Some(node.line),
                message: e.to_string(),
            });
            None
        }
    }
}

/// Decodes one YAML or JSON document into `M`.
pub fn decode_one<M: KubeObject>(text: &str) -> Result<M, ManifestError> {
    let node = yaml::parse_documents(text)
        .map_err(|e| ManifestError::single("", Some(e.line), e.message))?
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| ManifestError::single("", None, "empty document"))?;
    let mut errors = Vec::new();
    match decode_node::<M>(&node, "", &mut errors) {
        Some(m) if errors.is_empty() => Ok(m),
        _ => Err(ManifestError { errors }),
    }
}

/// Decodes a mapping node into a dynamic message of type `desc`.
pub fn decode_message(
    node: &Node,
    desc: &MessageDescriptor,
    path: &mut String,
    errors: &mut Vec<FieldError>,
) -> Option<DynamicMessage> {
    let entries = match &node.value {
        yaml::Value::Map(entries) => entries,
        _ => {
            errors.push(mismatch(path, node, "object"));
            return None;
        }
    };
    let mut message = DynamicMessage::new(desc.clone());
    let extra_field = desc.get_field_by_name(EXTRA_FIELDS);
    let mut extra = serde_json::Map::new();
    for (key, value) in entries {
        let len = path.len();
        push_key(path, key);
        match desc
            .get_field_by_json_name(key)
            .filter(|f| f.name() != EXTRA_FIELDS)
        {
            Some(field) if value.is_null() && extra_field.is_some() && keeps_null(desc, &field) => {
                extra.insert(key.clone(), serde_json::Value::Null);
            }
            Some(field) => {
                if let Some(v) = decode_field(value, &field, path, errors) {
                    message.set_field(&field, v);
                }
            }
            None if extra_field.is_some() => match value.to_json() {
                Ok(json) => {
                    extra.insert(key.clone(), json);
                }
                Err(e) => errors.push(FieldError {
                    path: path.clone(),
                    line: Some(value.line),
                    message: e,
                }),
            },
            None => errors.push(FieldError {
                path: path.clone(),
                line: Some(value.line),
                message: "unknown field".into(),
            }),
        }
        path.truncate(len);
    }
    if let Some(field) = extra_field.filter(|_| !extra.is_empty()) {
        let json = serde_json::Value::Object(extra);
        if let Some(v) = well_known(&field, json, path, node.line, errors) {
            message.set_field(&field, v);
        }
    }
    Some(message)
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

fn mismatch(path: &str, node: &Node, expected: &str) -> FieldError {
    let found = match &node.value {
        yaml::Value::Scalar(Scalar::Null, _) => "null".to_string(),
        yaml::Value::Scalar(Scalar::Bool(b), _) => format!("boolean {b}"),
        yaml::Value::Scalar(Scalar::Int(_) | Scalar::Float(_), raw) => format!("number {raw}"),
        yaml::Value::Scalar(Scalar::Str(s), _) => format!("string {s:?}"),
        yaml::Value::Seq(_) => "array".into(),
        yaml::Value::Map(_) => "object".into(),
    };
    FieldError {
        path: path.to_string(),
        line: Some(node.line),
        message: format!("expected {expected}, found {found}"),
    }
}

fn decode_field(
    node: &Node,
    field: &FieldDescriptor,
    path: &mut String,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    // `null` is how YAML writes "not given"; Kubernetes treats it as the zero value.
    if node.is_null() {
        return None;
    }
    if field.is_map() {
        return decode_map(node, field, path, errors);
    }
    if field.is_list() {
        let yaml::Value::Seq(items) = &node.value else {
            errors.push(mismatch(path, node, "array"));
            return None;
        };
        let mut values = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            if item.is_null() {
                errors.push(mismatch(path, item, "a value"));
            } else if let Some(v) = decode_single(item, field, path, errors) {
                values.push(v);
            }
            path.truncate(len);
        }
        return Some(Value::List(values));
    }
    decode_single(node, field, path, errors)
}

fn decode_map(
    node: &Node,
    field: &FieldDescriptor,
    path: &mut String,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let yaml::Value::Map(entries) = &node.value else {
        errors.push(mismatch(path, node, "object"));
        return None;
    };
    let quantity = QUANTITY_MAPS.contains(&field.full_name());
    let Kind::Message(entry) = field.kind() else {
        return None;
    };
    let value_field = entry.map_entry_value_field();
    let mut map = std::collections::HashMap::with_capacity(entries.len());
    for (key, value) in entries {
        let len = path.len();
        push_key(path, key);
        let decoded = match (&value.value, value_field.kind()) {
            (yaml::Value::Scalar(Scalar::Null, _), Kind::String) => {
                Some(Value::String(String::new()))
            }
            (yaml::Value::Scalar(Scalar::Int(_) | Scalar::Float(_), raw), Kind::String)
                if quantity =>
            {
                Some(Value::String(raw.replace('_', "")))
            }
            _ => decode_single(value, &value_field, path, errors),
        };
        if let Some(v) = decoded {
            map.insert(MapKey::String(key.clone()), v);
        }
        path.truncate(len);
    }
    Some(Value::Map(map))
}

fn decode_single(
    node: &Node,
    field: &FieldDescriptor,
    path: &mut String,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let scalar = match &node.value {
        yaml::Value::Scalar(s, _) => Some(s),
        _ => None,
    };
    match field.kind() {
        Kind::Message(desc) => match desc.full_name() {
            "google.protobuf.Timestamp" => match scalar {
                Some(Scalar::Str(s)) => well_known(
                    field,
                    serde_json::Value::String(s.clone()),
                    path,
                    node.line,
                    errors,
                ),
                _ => {
                    errors.push(mismatch(path, node, "an RFC 3339 timestamp string"));
                    None
                }
            },
            "google.protobuf.Value" => match scalar {
                // Kubernetes' IntOrString: an integer, or a string.
                Some(Scalar::Int(i)) if i32::try_from(*i).is_ok() => {
                    well_known(field, serde_json::Value::from(*i), path, node.line, errors)
                }
                Some(Scalar::Str(s)) => well_known(
                    field,
                    serde_json::Value::String(s.clone()),
                    path,
                    node.line,
                    errors,
                ),
                _ => {
                    errors.push(mismatch(path, node, "an integer or a string"));
                    None
                }
            },
            "google.protobuf.Struct" => match node.to_json() {
                Ok(json @ serde_json::Value::Object(_)) => {
                    well_known(field, json, path, node.line, errors)
                }
                Ok(_) => {
                    errors.push(mismatch(path, node, "object"));
                    None
                }
                Err(e) => {
                    errors.push(FieldError {
                        path: path.clone(),
                        line: Some(node.line),
                        message: e,
                    });
                    None
                }
            },
            _ => decode_message(node, &desc, path, errors).map(Value::Message),
        },
        Kind::String => match scalar {
            Some(Scalar::Str(s)) => Some(Value::String(s.clone())),
            Some(Scalar::Int(_) | Scalar::Float(_))
                if QUANTITY_FIELDS.contains(&field.full_name()) =>
            {
                let yaml::Value::Scalar(_, raw) = &node.value else {
                    return None;
                };
                Some(Value::String(raw.replace('_', "")))
            }
            _ => {
                errors.push(mismatch(path, node, "string"));
                None
            }
        },
        Kind::Bool => match scalar {
            Some(Scalar::Bool(b)) => Some(Value::Bool(*b)),
            _ => {
                errors.push(mismatch(path, node, "boolean"));
                None
            }
        },
        kind @ (Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Int64
        | Kind::Sint64
        | Kind::Sfixed64
        | Kind::Uint32
        | Kind::Fixed32
        | Kind::Uint64
        | Kind::Fixed64) => {
            let int = match scalar {
                Some(Scalar::Int(i)) => Some(*i),
                _ => None,
            };
            let value = int.and_then(|i| match kind {
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                    i32::try_from(i).ok().map(Value::I32)
                }
                Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Some(Value::I64(i)),
                Kind::Uint32 | Kind::Fixed32 => u32::try_from(i).ok().map(Value::U32),
                _ => u64::try_from(i).ok().map(Value::U64),
            });
            if value.is_none() {
                let expected = match kind {
                    Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "a 32-bit integer",
                    Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => {
                        "a non-negative integer"
                    }
                    _ => "integer",
                };
                errors.push(mismatch(path, node, expected));
            }
            value
        }
        Kind::Double | Kind::Float => match scalar {
            Some(Scalar::Int(i)) => Some(Value::F64(*i as f64)),
            Some(Scalar::Float(f)) => Some(Value::F64(*f)),
            _ => {
                errors.push(mismatch(path, node, "number"));
                None
            }
        },
        Kind::Enum(desc) => match scalar {
            Some(Scalar::Str(s)) => match desc.get_value_by_name(s) {
                Some(v) => Some(Value::EnumNumber(v.number())),
                None => {
                    errors.push(FieldError {
                        path: path.clone(),
                        line: Some(node.line),
                        message: format!("unknown value {s:?}"),
                    });
                    None
                }
            },
            _ => {
                errors.push(mismatch(path, node, "string"));
                None
            }
        },
        Kind::Bytes => {
            errors.push(FieldError {
                path: path.clone(),
                line: Some(node.line),
                message: "bytes fields are not supported in manifests".into(),
            });
            None
        }
    }
}

/// Builds a well-known-type value (Struct, Value, Timestamp) from its proto3 JSON form.
fn well_known(
    field: &FieldDescriptor,
    json: serde_json::Value,
    path: &str,
    line: usize,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let Kind::Message(desc) = field.kind() else {
        return None;
    };
    match DynamicMessage::deserialize(desc, json) {
        Ok(m) => Some(Value::Message(m)),
        Err(e) => {
            errors.push(FieldError {
                path: path.to_string(),
                line: Some(line),
                message: e.to_string(),
            });
            None
        }
    }
}
