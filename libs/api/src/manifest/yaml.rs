//! Reading and writing YAML the way Kubernetes does.
//!
//! The API server and kubectl read manifests with a YAML 1.1 library: plain scalars such as
//! `0640` (octal, 416), `yes`/`off` (booleans) and `~` (null) resolve as in YAML 1.1, quoted
//! scalars are always strings, and JSON (a subset) reads the same way. This module turns the
//! parser's event stream into a tree of [`Node`]s that remember their line (for error
//! messages) and the text of each scalar (so quantities like `0.5` keep their spelling), with
//! limits that keep hostile input (alias bombs, deep nesting) from exhausting memory.
//!
//! The parser is `libyaml_safer`, a safe port of libyaml, which is also what Kubernetes' Go YAML
//! library is a port of: both accept exactly the same documents (e.g. a flow sequence whose
//! closing bracket sits at the key's indentation, which stricter YAML 1.2 parsers refuse).
//!
//! [`to_string`] writes YAML that reads back identically under those same rules: any string
//! that a YAML 1.1 reader could take for something else is quoted.

use std::borrow::Cow;
use std::collections::HashMap;

use libyaml_safer::{Event, EventData, Parser, ScalarStyle};

/// Most nodes a document set may expand to, aliases included.
const MAX_NODES: usize = 1_000_000;
/// Most bytes of scalars and keys a document set may expand to, aliases included: a node
/// limit alone lets a long string, aliased a thousand times, take a thousand times its size.
/// A manifest sent as one request is at most 3 MiB (`crate::limits::MAX_REQUEST_BYTES`).
const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Deepest nesting of mappings and sequences.
const MAX_DEPTH: usize = 128;

/// A scalar after YAML 1.1 resolution.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `~`, `null`, an empty value.
    Null,
    /// `true`, `yes`, `on`, … and their negatives.
    Bool(bool),
    /// Decimal, octal (`0640`), hexadecimal (`0x1f`) or binary (`0b101`) integers.
    Int(i64),
    /// Floats, including integers too large for 64 bits.
    Float(f64),
    /// Everything else, and every quoted or block scalar.
    Str(String),
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A resolved scalar with its source text.
    Scalar(Scalar, String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order; keys are unique.
    Map(Vec<(String, Node)>),
}

/// A YAML node and the line (1-based) it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// The line the node starts on.
    pub line: usize,
}

impl Node {
    /// True for a null scalar.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Scalar(Scalar::Null, _))
    }

    /// Looks up a key of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The node as a JSON value, as Kubernetes' YAML-to-JSON conversion gives it.
    pub fn to_json(&self) -> Result<serde_json::Value, String> {
        Ok(match &self.value {
            Value::Scalar(s, _) => match s {
                Scalar::Null => serde_json::Value::Null,
                Scalar::Bool(b) => serde_json::Value::Bool(*b),
                Scalar::Int(i) => serde_json::Value::from(*i),
                Scalar::Float(f) => serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| format!("{f} cannot be represented in JSON"))?,
                Scalar::Str(s) => serde_json::Value::String(s.clone()),
            },
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect::<Result<_, _>>()?)
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_json()?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }
}

/// A YAML syntax or structure error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct YamlError {
    /// Line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> YamlError {
    YamlError {
        line,
        message: message.into(),
    }
}

/// Parses every document of a YAML (or JSON) text. Empty documents are returned as `None`.
pub fn parse_documents(text: &str) -> Result<Vec<Option<Node>>, YamlError> {
    let mut input = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut loader = Loader::default();
    for event in parser {
        let event = event.map_err(|e| {
            let line = e.problem_mark().map_or(0, |m| m.line as usize + 1);
            err(line, e.to_string())
        })?;
        loader.on_event(event)?;
    }
    Ok(loader.documents)
}

/// Partially built container.
enum Frame {
    Seq {
        items: Vec<Node>,
        line: usize,
        anchor: Option<String>,
    },
    Map {
        entries: Vec<(String, Node)>,
        /// Entries brought in by `<<` merge keys; explicit keys win over them.
        merged: Vec<(String, Node)>,
        key: Option<(String, usize)>,
        line: usize,
        anchor: Option<String>,
    },
}

#[derive(Default)]
struct Loader {
    documents: Vec<Option<Node>>,
    stack: Vec<Frame>,
    anchors: HashMap<String, Node>,
    current: Option<Node>,
    nodes: usize,
    bytes: usize,
}

impl Loader {
    fn on_event(&mut self, event: Event) -> Result<(), YamlError> {
        let line = event.start_mark.line as usize + 1;
        match event.data {
            EventData::StreamStart { .. } | EventData::StreamEnd => {}
            EventData::DocumentStart { .. } => {
                self.current = None;
                self.anchors.clear();
            }
            EventData::DocumentEnd { .. } => {
                let node = self.current.take().filter(|n| !n.is_null());
                self.documents.push(node);
            }
            EventData::Alias { anchor } => {
                let node = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .ok_or_else(|| err(line, format!("unknown anchor {anchor:?}")))?;
                let (nodes, bytes) = weight(&node);
                self.count(nodes, bytes, line)?;
                self.push_node(node)?;
            }
            EventData::Scalar {
                anchor,
                tag,
                value,
                style,
                ..
            } => {
                self.count(1, value.len(), line)?;
                let scalar = resolve_scalar(&value, style, tag.as_deref(), line)?;
                let node = Node {
                    value: Value::Scalar(scalar, value),
                    line,
                };
                if let Some(anchor) = anchor {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_node(node)?;
            }
            EventData::SequenceStart { anchor, .. } => {
                self.open(line)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    line,
                    anchor,
                });
            }
            EventData::MappingStart { anchor, .. } => {
                self.open(line)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    merged: Vec::new(),
                    key: None,
                    line,
                    anchor,
                });
            }
            EventData::SequenceEnd | EventData::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        line,
                        anchor,
                    }) => (
                        Node {
                            value: Value::Seq(items),
                            line,
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        mut entries,
                        merged,
                        line,
                        anchor,
                        ..
                    }) => {
                        for (k, v) in merged {
                            if !entries.iter().any(|(existing, _)| *existing == k) {
                                entries.push((k, v));
                            }
                        }
                        (
                            Node {
                                value: Value::Map(entries),
                                line,
                            },
                            anchor,
                        )
                    }
                    None => return Err(err(line, "unbalanced collection end")),
                };
                if let Some(anchor) = anchor {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_node(node)?;
            }
        }
        Ok(())
    }

    fn count(&mut self, nodes: usize, bytes: usize, line: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES {
            return Err(err(
                line,
                format!("document expands to more than {MAX_NODES} nodes"),
            ));
        }
        if self.bytes > MAX_BYTES {
            return Err(err(
                line,
                format!("document expands to more than {MAX_BYTES} bytes"),
            ));
        }
        Ok(())
    }

    fn open(&mut self, line: usize) -> Result<(), YamlError> {
        self.count(1, 0, line)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(err(line, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn push_node(&mut self, node: Node) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => self.current = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                merged,
                key,
                ..
            }) => match key.take() {
                None => *key = Some((key_string(&node)?, node.line)),
                Some((k, key_line)) if k == "<<" && !matches!(node.value, Value::Scalar(..)) => {
                    merge_into(merged, node, key_line)?;
                }
                Some((k, key_line)) => {
                    if entries.iter().any(|(existing, _)| *existing == k) {
                        return Err(err(key_line, format!("duplicate key {k:?}")));
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

/// Collects the entries of a `<<` merge key; earlier merged keys win over later ones.
fn merge_into(entries: &mut Vec<(String, Node)>, node: Node, line: usize) -> Result<(), YamlError> {
    let sources = match node.value {
        Value::Map(map) => vec![map],
        Value::Seq(items) => items
            .into_iter()
            .map(|item| match item.value {
                Value::Map(map) => Ok(map),
                _ => Err(err(item.line, "a merge key takes mappings")),
            })
            .collect::<Result<_, _>>()?,
        Value::Scalar(..) => return Err(err(line, "a merge key takes mappings")),
    };
    for map in sources {
        for (k, v) in map {
            if !entries.iter().any(|(existing, _)| *existing == k) {
                entries.push((k, v));
            }
        }
    }
    Ok(())
}

/// Mapping keys become strings the way Kubernetes' YAML-to-JSON conversion spells them.
fn key_string(node: &Node) -> Result<String, YamlError> {
    match &node.value {
        Value::Scalar(Scalar::Str(s), _) => Ok(s.clone()),
        Value::Scalar(Scalar::Bool(b), _) => Ok(b.to_string()),
        Value::Scalar(Scalar::Int(i), _) => Ok(i.to_string()),
        Value::Scalar(Scalar::Float(f), _) => Ok(f.to_string()),
        Value::Scalar(Scalar::Null, _) => Ok("null".to_string()),
        _ => Err(err(node.line, "mapping keys must be scalars")),
    }
}

/// The nodes and the bytes of scalars and keys in `node`.
fn weight(node: &Node) -> (usize, usize) {
    let add = |(n, b): (usize, usize), (m, c): (usize, usize)| (n + m, b.saturating_add(c));
    match &node.value {
        Value::Scalar(_, text) => (1, text.len()),
        Value::Seq(items) => items.iter().map(weight).fold((1, 0), add),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| add((0, k.len()), weight(v)))
            .fold((1, 0), add),
    }
}

fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    line: usize,
) -> Result<Scalar, YamlError> {
    if let Some(kind) = tag.and_then(|t| t.strip_prefix("tag:yaml.org,2002:")) {
        let resolved = resolve_plain(text);
        return match kind {
            "str" => Ok(Scalar::Str(text.to_string())),
            "null" => Ok(Scalar::Null),
            "bool" => match resolved {
                Scalar::Bool(_) => Ok(resolved),
                _ => Err(err(line, format!("{text:?} is not a !!bool"))),
            },
            "int" => match resolved {
                Scalar::Int(_) => Ok(resolved),
                _ => Err(err(line, format!("{text:?} is not an !!int"))),
            },
            "float" => match resolved {
                Scalar::Int(i) => Ok(Scalar::Float(i as f64)),
                Scalar::Float(_) => Ok(resolved),
                _ => Err(err(line, format!("{text:?} is not a !!float"))),
            },
            _ => Ok(Scalar::Str(text.to_string())),
        };
    }
    Ok(match style {
        ScalarStyle::Plain => resolve_plain(text),
        _ => Scalar::Str(text.to_string()),
    })
}

/// Resolves a plain scalar with YAML 1.1 rules, as Kubernetes' YAML library does.
pub fn resolve_plain(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Scalar::Str(text.to_string());
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(i) = parse_int(&plain) {
        return Scalar::Int(i);
    }
    if let Some(f) = is_yaml_float(&plain)
        .then(|| plain.parse::<f64>().ok())
        .flatten()
    {
        return Scalar::Float(f);
    }
    Scalar::Str(text.to_string())
}

/// Integers as Go's `strconv.ParseInt(s, 0, 64)` reads them: sign, then `0x`, `0o`, `0b`, a
/// leading `0` for octal, or decimal.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, body) = if let Some(rest) = digits.strip_prefix("0x").or(digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        (8, rest)
    } else if let Some(rest) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Writes a JSON value as block-style YAML that reads back to the same value under YAML 1.1.
pub fn to_string(value: &serde_json::Value) -> String {
    let mut out = String::new();
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        serde_json::Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, serde_json::Value>, indent: usize) {
    for (i, (k, v)) in map.iter().enumerate() {
        // The first entry of a mapping inside a sequence item follows the "- " directly.
        if i > 0 || !out.ends_with("- ") {
            push_indent(out, indent);
        }
        out.push_str(&string_scalar(k));
        out.push(':');
        write_value(out, v, indent, true);
    }
}

fn write_seq(out: &mut String, items: &[serde_json::Value], indent: usize) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            push_indent(out, indent);
        }
        out.push('-');
        write_value(out, item, indent, false);
    }
}

fn write_value(out: &mut String, v: &serde_json::Value, indent: usize, in_map: bool) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            if in_map {
                out.push('\n');
                write_map(out, m, indent + 2);
            } else {
                out.push(' ');
                write_map(out, m, indent + 2);
            }
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            if in_map {
                // Kubernetes style: sequence items at the key's indentation.
                out.push('\n');
                write_seq(out, a, indent);
            } else {
                out.push(' ');
                write_seq(out, a, indent + 2);
            }
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn scalar(v: &serde_json::Value) -> Cow<'static, str> {
    match v {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => b.to_string().into(),
        serde_json::Value::Number(n) => n.to_string().into(),
        serde_json::Value::String(s) => string_scalar(s).into_owned().into(),
        serde_json::Value::Object(_) => "{}".into(),
        serde_json::Value::Array(_) => "[]".into(),
    }
}

/// A string as a plain scalar when that is unambiguous, else double-quoted.
fn string_scalar(s: &str) -> Cow<'_, str> {
    // `:` is plain unless a space or the end follows it (`busybox:1.36`, `10.0.0.1:80`).
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | '@' | '+' | ':'))
        && !s.ends_with(':');
    let plain_start = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/'));
    if plain_chars && plain_start && resolve_plain(s) == Scalar::Str(s.to_string()) {
        Cow::Borrowed(s)
    } else {
        // A JSON string literal is a valid YAML double-quoted scalar.
        Cow::Owned(serde_json::Value::String(s.to_string()).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        parse_documents(text).unwrap().remove(0).unwrap()
    }

    fn json(text: &str) -> serde_json::Value {
        one(text).to_json().unwrap()
    }

    #[test]
    fn plain_scalars_resolve_as_yaml_1_1() {
        assert_eq!(resolve_plain("0640"), Scalar::Int(416));
        assert_eq!(resolve_plain("420"), Scalar::Int(420));
        assert_eq!(resolve_plain("0x1F"), Scalar::Int(31));
        assert_eq!(resolve_plain("0b101"), Scalar::Int(5));
        assert_eq!(resolve_plain("1_000"), Scalar::Int(1000));
        assert_eq!(resolve_plain("-7"), Scalar::Int(-7));
        assert_eq!(resolve_plain("0.5"), Scalar::Float(0.5));
        assert_eq!(resolve_plain("08"), Scalar::Float(8.0));
        assert_eq!(resolve_plain("1e3"), Scalar::Float(1000.0));
        assert_eq!(resolve_plain("yes"), Scalar::Bool(true));
        assert_eq!(resolve_plain("Off"), Scalar::Bool(false));
        assert_eq!(resolve_plain("~"), Scalar::Null);
        assert_eq!(resolve_plain("100m"), Scalar::Str("100m".into()));
        assert_eq!(resolve_plain("10%"), Scalar::Str("10%".into()));
        assert_eq!(resolve_plain("1.2.3"), Scalar::Str("1.2.3".into()));
        assert_eq!(resolve_plain("-"), Scalar::Str("-".into()));
    }

    #[test]
    fn quoted_scalars_stay_strings_and_keep_their_text() {
        assert_eq!(
            json("a: '0640'\nb: \"yes\"\nc: |\n  x\n"),
            serde_json::json!({"a": "0640", "b": "yes", "c": "x\n"})
        );
        let node = one("cpu: 0.5\n");
        match &node.get("cpu").unwrap().value {
            Value::Scalar(Scalar::Float(f), raw) => assert_eq!((*f, raw.as_str()), (0.5, "0.5")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn null_values_and_trailing_commas_in_flow_sequences() {
        assert_eq!(
            json("value:\nargs: [a, b,]\n"),
            serde_json::json!({"value": null, "args": ["a", "b"]})
        );
    }

    #[test]
    fn keys_resolve_like_values_then_become_strings() {
        assert_eq!(
            json("y: 1\n3: x\n"),
            serde_json::json!({"true": 1, "3": "x"})
        );
    }

    #[test]
    fn lines_are_remembered() {
        let node = one("a: 1\nb:\n  c: x\n");
        assert_eq!(node.get("b").unwrap().get("c").unwrap().line, 3);
    }

    #[test]
    fn duplicate_keys_are_rejected_with_their_line() {
        let e = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("duplicate key"), "{e}");
    }

    #[test]
    fn anchors_aliases_and_merge_keys_expand() {
        assert_eq!(
            json("base: &b {p: 1, q: 2}\nd:\n  <<: *b\n  q: 3\nl: *b\n"),
            serde_json::json!({"base": {"p": 1, "q": 2}, "d": {"q": 3, "p": 1}, "l": {"p": 1, "q": 2}})
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse_documents(&text).unwrap_err();
        assert!(e.message.contains("more than"), "{e}");
    }

    #[test]
    fn a_long_string_aliased_over_and_over_is_refused_by_size() {
        // 1 MiB, aliased 100 times: 101 nodes, but 101 MiB once expanded.
        let mut text = format!("s: &s \"{}\"\nl:\n", "x".repeat(1024 * 1024));
        for _ in 0..100 {
            text.push_str("  - *s\n");
        }
        let e = parse_documents(&text).unwrap_err();
        assert!(e.message.contains("more than 67108864 bytes"), "{e}");
        // Aliased 40 times it stays under the limit and reads.
        let mut text = format!("s: &s \"{}\"\nl:\n", "x".repeat(1024 * 1024));
        for _ in 0..40 {
            text.push_str("  - *s\n");
        }
        assert_eq!(
            one(&text)
                .get("l")
                .map(|l| matches!(&l.value, Value::Seq(items) if items.len() == 40)),
            Some(true)
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(200) + &"]".repeat(200);
        assert!(
            parse_documents(&text)
                .unwrap_err()
                .message
                .contains("nesting")
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = parse_documents("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(e.line >= 2, "{e}");
    }

    #[test]
    fn several_documents_and_empty_ones() {
        let docs = parse_documents("---\na: 1\n---\n# nothing\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert!(docs[1].is_none());
    }

    #[test]
    fn json_reads_as_yaml() {
        assert_eq!(
            json(r#"{"a": [1, "x", true, null], "b": {"c": 1.5}}"#),
            serde_json::json!({"a": [1, "x", true, null], "b": {"c": 1.5}})
        );
    }

    #[test]
    fn written_yaml_reads_back_identically() {
        let value = serde_json::json!({
            "apiVersion": "apps/v1",
            "metadata": {"name": "x", "labels": {"on": "yes", "n": "0640", "e": "", "s": "a b: c"}},
            "list": [{"a": 1, "b": [1, 2]}, "s", [], {}, [["nested"]], null, true, 0.5, "- dash", "#x", "multi\nline", "busybox:1.36", "ends:", "a::b", "12:30"],
            "empty": {},
        });
        let text = to_string(&value);
        assert_eq!(json(&text), value, "{text}");
        assert!(
            text.contains("- busybox:1.36\n"),
            "an image reference stays plain: {text}"
        );
    }
}
