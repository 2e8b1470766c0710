//! Kubernetes' name and label rules, and label selectors.
//!
//! This module owns:
//! - the string checks of `k8s.io/apimachinery/pkg/util/validation` (DNS-1123 label and
//!   subdomain, qualified name, label value, IANA service name, environment variable name,
//!   ConfigMap key, percent), each returning Kubernetes' own error messages (empty = valid);
//! - [`Selector`]: a parsed label selector (requirements ANDed) built from a
//!   [`LabelSelector`](crate::model::LabelSelector) (`metav1.LabelSelectorAsSelector`) or parsed
//!   from the string syntax of List calls (`labels.Parse`), and matched against a label set.
//!
//! Invariants: an absent selector selects nothing ([`Selector::nothing`]); an empty one selects
//! everything ([`Selector::everything`]). Every requirement of a [`Selector`] passed Kubernetes'
//! `NewRequirement` checks (valid key, valid values, value count fitting the operator).
//! The matchers are written by hand over bytes (Kubernetes measures lengths in bytes too).

use std::collections::BTreeMap;
use std::fmt;

use crate::model::LabelSelector;

/// Longest DNS-1123 label (RFC 1123).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 subdomain (RFC 1123).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Longest name part of a qualified name.
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// Longest label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Longest IANA service name (a port name).
pub const PORT_NAME_MAX_LENGTH: usize = 15;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const ENV_VAR_NAME_FMT: &str = "[-._a-zA-Z][-._a-zA-Z0-9]*";
const ENV_VAR_NAME_ERR: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_ERR: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const PERCENT_FMT: &str = "[0-9]+%";
const PERCENT_ERR: &str =
    "a valid percent string must be a numeric string followed by an ending '%'";
const HTTP_HEADER_NAME_FMT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_NAME_ERR: &str =
    "a valid HTTP header must consist of alphanumeric characters or '-'";

/// Kubernetes' `MaxLenError`: `must be no more than N characters`.
pub fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// Kubernetes' `RegexError`: the message, the examples and the regular expression.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let examples = examples
        .iter()
        .map(|e| format!("'{e}', "))
        .collect::<Vec<_>>()
        .join(" or ");
    format!("{msg} (e.g. {examples}regex used for validation is '{fmt}')")
}

/// Kubernetes' `EmptyError`: `must be non-empty`.
pub fn empty_error() -> &'static str {
    "must be non-empty"
}

/// Kubernetes' `InclusiveRangeError`: `must be between LO and HI, inclusive`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(value: &str) -> bool {
    let b = value.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alnum(first)
                && is_lower_alnum(last)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// DNS-1123 labels joined by dots.
fn matches_dns1123_subdomain(value: &str) -> bool {
    value.split('.').all(matches_dns1123_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_qualified_name_part(value: &str) -> bool {
    let b = value.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Tests a DNS-1123 label (RFC 1123): at most 63 characters of `[-a-z0-9]`, starting and ending
/// alphanumeric (Kubernetes: `IsDNS1123Label`). Returns Kubernetes' messages; empty = valid.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// Tests a DNS-1123 subdomain: at most 253 characters, DNS-1123 labels joined by dots
/// (Kubernetes: `IsDNS1123Subdomain`). Returns Kubernetes' messages; empty = valid.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Tests a qualified name (a label or annotation key): an optional DNS-1123 subdomain prefix
/// and `/`, then a name of at most 63 characters of `[-A-Za-z0-9_.]` starting and ending
/// alphanumeric (Kubernetes: `IsQualifiedName`). Returns Kubernetes' messages; empty = valid.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Tests a label value: empty, or at most 63 characters of `[-A-Za-z0-9_.]` starting and ending
/// alphanumeric (Kubernetes: `IsValidLabelValue`). Returns Kubernetes' messages; empty = valid.
pub fn is_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Tests an IANA service name (RFC 6335), the syntax of a port name: at most 15 characters of
/// `[-a-z0-9]`, at least one letter, no `--`, no leading or trailing `-` (Kubernetes:
/// `IsValidPortName`). Returns Kubernetes' messages; empty = valid.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let b = port.as_bytes();
    if b.len() > PORT_NAME_MAX_LENGTH {
        errs.push(max_len_error(PORT_NAME_MAX_LENGTH));
    }
    if b.is_empty() || !b.iter().all(|&c| is_lower_alnum(c) || c == b'-') {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !b.iter().any(u8::is_ascii_lowercase) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if b.first() == Some(&b'-') || b.last() == Some(&b'-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

fn ch_dir_prefix_errors(value: &str) -> Option<String> {
    if value == "." {
        Some("must not be '.'".to_string())
    } else if value == ".." {
        Some("must not be '..'".to_string())
    } else if value.starts_with("..") {
        Some("must not start with '..'".to_string())
    } else {
        None
    }
}

/// Tests an environment variable name with the classic rule `[-._a-zA-Z][-._a-zA-Z0-9]*`, not
/// `.`, `..` nor starting with `..` (Kubernetes: `IsEnvVarName`, the default without the
/// `RelaxedEnvironmentVariableValidation` gate). Returns Kubernetes' messages; empty = valid.
pub fn is_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let b = value.as_bytes();
    let start_ok = b
        .first()
        .is_some_and(|&c| c.is_ascii_alphabetic() || matches!(c, b'-' | b'.' | b'_'));
    let rest_ok = b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if !(start_ok && rest_ok) {
        errs.push(regex_error(
            ENV_VAR_NAME_ERR,
            ENV_VAR_NAME_FMT,
            &["my.env-name", "MY_ENV.NAME", "MyEnvName1"],
        ));
    }
    errs.extend(ch_dir_prefix_errors(value));
    errs
}

/// Tests a ConfigMap or Secret key: at most 253 characters of `[-._a-zA-Z0-9]`, not `.`, `..`
/// nor starting with `..` (Kubernetes: `IsConfigMapKey`). Returns Kubernetes' messages.
pub fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let b = value.as_bytes();
    if b.is_empty()
        || !b
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
    {
        errs.push(regex_error(
            CONFIG_MAP_KEY_ERR,
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(ch_dir_prefix_errors(value));
    errs
}

/// Tests a percent string `[0-9]+%` (Kubernetes: `IsValidPercent`). Returns Kubernetes'
/// message; empty = valid.
pub fn is_valid_percent(value: &str) -> Vec<String> {
    let digits = value.strip_suffix('%').unwrap_or("");
    if value.ends_with('%') && !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        Vec::new()
    } else {
        vec![regex_error(PERCENT_ERR, PERCENT_FMT, &["1%", "93%"])]
    }
}

/// Tests an HTTP header name `[-A-Za-z0-9]+` (Kubernetes: `IsHTTPHeaderName`).
pub fn is_http_header_name(value: &str) -> Vec<String> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
    {
        Vec::new()
    } else {
        vec![regex_error(
            HTTP_HEADER_NAME_ERR,
            HTTP_HEADER_NAME_FMT,
            &["X-Header-Name"],
        )]
    }
}

/// Kubernetes' `IsValidPortNum`: a port number in `1..=65535`.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// A name that will get a generated suffix may end in `-`: Kubernetes checks it as if that
/// dash were a letter (`maskTrailingDash`).
fn mask_trailing_dash(name: &str) -> String {
    match name.strip_suffix('-') {
        Some(rest) if name.len() > 1 => format!("{rest}a"),
        _ => name.to_string(),
    }
}

/// Kubernetes' `NameIsDNSSubdomain`: an object name (or, with `prefix`, a `generateName`).
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        is_dns1123_subdomain(&mask_trailing_dash(name))
    } else {
        is_dns1123_subdomain(name)
    }
}

/// Kubernetes' `NameIsDNSLabel`: a namespace name (or, with `prefix`, a `generateName`).
pub fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        is_dns1123_label(&mask_trailing_dash(name))
    } else {
        is_dns1123_label(name)
    }
}

// ---------------------------------------------------------------------------------------------
// Selectors
// ---------------------------------------------------------------------------------------------

/// The operator of one selector requirement (Kubernetes: `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `key=value`.
    Equals,
    /// `key==value`.
    DoubleEquals,
    /// `key!=value`: the key is absent or has another value.
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)`: the key is absent or has none of the values.
    NotIn,
    /// `key`: the key is present.
    Exists,
    /// `!key`: the key is absent.
    DoesNotExist,
    /// `key>5`: the key is present and its integer value greater.
    GreaterThan,
    /// `key<5`: the key is present and its integer value smaller.
    LessThan,
}

impl Operator {
    /// The operator as Kubernetes spells it in `selection.Operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// Why a requirement is not valid (Kubernetes' `NewRequirement` errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid requirement for key {key:?}: {}", .reasons.join("; "))]
pub struct InvalidRequirement {
    /// The requirement's key.
    pub key: String,
    /// Every problem found, in Kubernetes' words.
    pub reasons: Vec<String>,
}

/// One requirement of a selector: a key, an operator and its values (Kubernetes:
/// `labels.Requirement`). Values of `In`/`NotIn` are kept sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement with Kubernetes' checks (`labels.NewRequirement`): the key must be a
    /// qualified name, each value a label value; `In`/`NotIn` need at least one value,
    /// `=`/`==`/`!=` exactly one, `Exists`/`DoesNotExist` none, `Gt`/`Lt` exactly one integer.
    pub fn new(
        key: &str,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Self, InvalidRequirement> {
        let mut reasons: Vec<String> = is_qualified_name(key);
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    reasons.push("for 'in', 'notin' operators, values set can't be empty".into());
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    reasons.push("exact-match compatibility requires one single value".into());
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    reasons.push("values set must be empty for exists and does not exist".into());
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    reasons.push("for 'Gt', 'Lt' operators, exactly one value is required".into());
                }
                for v in &values {
                    if v.parse::<i64>().is_err() {
                        reasons.push(format!(
                            "for 'Gt', 'Lt' operators, the value must be an integer (got {v:?})"
                        ));
                    }
                }
            }
        }
        for v in &values {
            reasons.extend(is_label_value(v).into_iter().map(|m| format!("{v:?}: {m}")));
        }
        if !reasons.is_empty() {
            return Err(InvalidRequirement {
                key: key.to_string(),
                reasons,
            });
        }
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(Self {
            key: key.to_string(),
            operator,
            values,
        })
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// True when `labels` satisfy this requirement (Kubernetes: `Requirement.Matches`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.contains(v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(have)) = value.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let Some(Ok(want)) = self.values.first().map(|v| v.parse::<i64>()) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Kubernetes' `Requirement.String()`: `a=b`, `a!=b`, `a in (x,y)`, `a`, `!a`, `a>5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.values.first().map_or("", String::as_str);
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Equals => write!(f, "{}={first}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={first}", self.key),
            Operator::NotEquals => write!(f, "{}!={first}", self.key),
            Operator::GreaterThan => write!(f, "{}>{first}", self.key),
            Operator::LessThan => write!(f, "{}<{first}", self.key),
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
        }
    }
}

/// A label selector ready to match: requirements ANDed, or nothing at all (Kubernetes:
/// `labels.Selector`). `Selector::everything()` (no requirements) matches every label set;
/// `Selector::nothing()` matches none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Matches no label set (an absent `LabelSelector`).
    Nothing,
    /// Matches label sets that satisfy every requirement; sorted by key.
    Requirements(Vec<Requirement>),
}

/// Why a [`LabelSelector`] cannot be turned into a [`Selector`] (Kubernetes:
/// `LabelSelectorAsSelector` errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A `matchExpressions` operator other than `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[error("{0:?} is not a valid label selector operator")]
    InvalidOperator(String),
    /// A requirement failed Kubernetes' checks.
    #[error(transparent)]
    InvalidRequirement(#[from] InvalidRequirement),
}

impl Selector {
    /// The selector that matches every label set (Kubernetes: `labels.Everything()`).
    pub fn everything() -> Self {
        Selector::Requirements(Vec::new())
    }

    /// The selector that matches no label set (Kubernetes: `labels.Nothing()`).
    pub fn nothing() -> Self {
        Selector::Nothing
    }

    /// Builds a selector from its requirements, sorted by key as Kubernetes keeps them.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Selector::Requirements(requirements)
    }

    /// Converts an API label selector (Kubernetes: `metav1.LabelSelectorAsSelector`): absent →
    /// nothing; no `matchLabels` and no `matchExpressions` → everything; otherwise each label
    /// `k: v` as `k=v` and each expression as its requirement, ANDed.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Self, SelectorError> {
        let Some(selector) = selector else {
            return Ok(Selector::Nothing);
        };
        let mut requirements = Vec::new();
        for (k, v) in &selector.match_labels {
            requirements.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in &selector.match_expressions {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(SelectorError::InvalidOperator(other.to_string())),
            };
            requirements.push(Requirement::new(&expr.key, op, expr.values.clone())?);
        }
        Ok(Self::from_requirements(requirements))
    }

    /// Parses Kubernetes' selector string syntax (`labels.Parse`): comma-separated requirements,
    /// ANDed, each one of `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`, `k>1`,
    /// `k<1`. An empty string selects everything.
    pub fn parse(text: &str) -> Result<Self, SelectorParseError> {
        Parser::new(text).parse()
    }

    /// True when this selector matches every label set.
    pub fn is_everything(&self) -> bool {
        matches!(self, Selector::Requirements(r) if r.is_empty())
    }

    /// The requirements (none for `Nothing` and `Everything`).
    pub fn requirements(&self) -> &[Requirement] {
        match self {
            Selector::Nothing => &[],
            Selector::Requirements(r) => r,
        }
    }

    /// True when `labels` satisfy every requirement (never for `Nothing`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Requirements(r) => r.iter().all(|r| r.matches(labels)),
        }
    }
}

impl fmt::Display for Selector {
    /// Kubernetes' `Selector.String()`: requirements joined by `,` (empty for everything and
    /// nothing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// True when the API selector `selector` matches `labels`; an absent or invalid selector
/// matches nothing.
pub fn label_selector_matches(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> bool {
    Selector::from_label_selector(selector).is_ok_and(|s| s.matches(labels))
}

/// What went wrong while parsing a selector string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorParseErrorKind {
    /// A token that does not fit the grammar here.
    Unexpected {
        /// The token found (`""` at the end of the string).
        found: String,
        /// What the grammar allows here.
        expected: &'static str,
    },
    /// A well-formed requirement that fails Kubernetes' checks (bad key or value).
    InvalidRequirement(InvalidRequirement),
}

/// A selector string that does not parse, with the byte offset of the offending token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement at position {position}: {kind}")]
pub struct SelectorParseError {
    /// Byte offset in the input of the token that failed.
    pub position: usize,
    /// What failed.
    pub kind: SelectorParseErrorKind,
}

impl fmt::Display for SelectorParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectorParseErrorKind::Unexpected { found, expected } => {
                write!(f, "found '{found}', expected: {expected}")
            }
            SelectorParseErrorKind::InvalidRequirement(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Identifier(String),
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    OpenPar,
    ClosedPar,
    Comma,
    GreaterThan,
    LessThan,
    End,
}

impl Token {
    fn literal(&self) -> &str {
        match self {
            Token::Identifier(s) => s,
            Token::Bang => "!",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::In => "in",
            Token::NotIn => "notin",
            Token::OpenPar => "(",
            Token::ClosedPar => ")",
            Token::Comma => ",",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::End => "",
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(text: &str) -> Vec<(usize, Token)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if is_special(c) {
            chars.next();
            let next = chars.peek().map(|&(_, n)| n);
            let token = match (c, next) {
                ('=', Some('=')) => {
                    chars.next();
                    Token::DoubleEquals
                }
                ('!', Some('=')) => {
                    chars.next();
                    Token::NotEquals
                }
                ('=', _) => Token::Equals,
                ('!', _) => Token::Bang,
                ('(', _) => Token::OpenPar,
                (')', _) => Token::ClosedPar,
                (',', _) => Token::Comma,
                ('>', _) => Token::GreaterThan,
                _ => Token::LessThan,
            };
            out.push((pos, token));
            continue;
        }
        let mut word = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() || is_special(c) {
                break;
            }
            word.push(c);
            chars.next();
        }
        let token = match word.as_str() {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier(word),
        };
        out.push((pos, token));
    }
    out.push((text.len(), Token::End));
    out
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
}

/// Where the parser is: in values, the keywords `in`/`notin` are plain identifiers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

impl Parser {
    fn new(text: &str) -> Self {
        Self {
            tokens: lex(text),
            pos: 0,
        }
    }

    fn adjust(token: &Token, ctx: Context) -> Token {
        match (token, ctx) {
            (Token::In, Context::Values) => Token::Identifier("in".into()),
            (Token::NotIn, Context::Values) => Token::Identifier("notin".into()),
            (t, _) => t.clone(),
        }
    }

    fn lookahead(&self, ctx: Context) -> (usize, Token) {
        let (at, token) = self
            .tokens
            .get(self.pos)
            .or(self.tokens.last())
            .cloned()
            .unwrap_or((0, Token::End));
        (at, Self::adjust(&token, ctx))
    }

    fn consume(&mut self, ctx: Context) -> (usize, Token) {
        let t = self.lookahead(ctx);
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn unexpected(at: usize, token: &Token, expected: &'static str) -> SelectorParseError {
        SelectorParseError {
            position: at,
            kind: SelectorParseErrorKind::Unexpected {
                found: token.literal().to_string(),
                expected,
            },
        }
    }

    fn parse(mut self) -> Result<Selector, SelectorParseError> {
        let mut requirements = Vec::new();
        loop {
            let (at, token) = self.lookahead(Context::Values);
            match token {
                Token::Identifier(_) | Token::Bang => {
                    requirements.push(self.parse_requirement()?);
                    let (at, token) = self.consume(Context::Values);
                    match token {
                        Token::End => break,
                        Token::Comma => {
                            let (at, next) = self.lookahead(Context::Values);
                            if !matches!(next, Token::Identifier(_) | Token::Bang) {
                                return Err(Self::unexpected(at, &next, "identifier after ','"));
                            }
                        }
                        other => {
                            return Err(Self::unexpected(at, &other, "',' or 'end of string'"));
                        }
                    }
                }
                Token::End => break,
                other => {
                    return Err(Self::unexpected(
                        at,
                        &other,
                        "!, identifier, or 'end of string'",
                    ));
                }
            }
        }
        Ok(Selector::from_requirements(requirements))
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorParseError> {
        let (start, mut token) = self.consume(Context::Values);
        let mut operator = None;
        let mut at = start;
        if token == Token::Bang {
            operator = Some(Operator::DoesNotExist);
            (at, token) = self.consume(Context::Values);
        }
        let Token::Identifier(key) = token else {
            return Err(Self::unexpected(at, &token, "identifier"));
        };
        let invalid = |e: InvalidRequirement| SelectorParseError {
            position: start,
            kind: SelectorParseErrorKind::InvalidRequirement(e),
        };
        let key_errors = is_qualified_name(&key);
        if !key_errors.is_empty() {
            return Err(invalid(InvalidRequirement {
                key,
                reasons: key_errors,
            }));
        }
        if operator.is_none()
            && matches!(self.lookahead(Context::Values).1, Token::End | Token::Comma)
        {
            operator = Some(Operator::Exists);
        }
        if let Some(op) = operator {
            return Requirement::new(&key, op, Vec::new()).map_err(invalid);
        }
        let (at, token) = self.consume(Context::KeyAndOperator);
        let op = match token {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            other => {
                return Err(Self::unexpected(at, &other, "in, notin, =, ==, !=, gt, lt"));
            }
        };
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(&key, op, values).map_err(invalid)
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, SelectorParseError> {
        let (_, next) = self.lookahead(Context::Values);
        if matches!(next, Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        let (at, token) = self.consume(Context::Values);
        match token {
            Token::Identifier(v) => Ok(vec![v]),
            other => Err(Self::unexpected(at, &other, "identifier")),
        }
    }

    fn parse_values(&mut self) -> Result<Vec<String>, SelectorParseError> {
        let (at, token) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(Self::unexpected(at, &token, "'('"));
        }
        let (at, next) = self.lookahead(Context::Values);
        match next {
            Token::Identifier(_) | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (at, token) = self.consume(Context::Values);
                if token != Token::ClosedPar {
                    return Err(Self::unexpected(at, &token, "')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            other => Err(Self::unexpected(at, &other, "',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, SelectorParseError> {
        let mut values = Vec::new();
        loop {
            let (at, token) = self.consume(Context::Values);
            match token {
                Token::Identifier(v) => {
                    values.push(v);
                    let (at, next) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => {}
                        Token::ClosedPar => return Ok(values),
                        other => return Err(Self::unexpected(at, &other, "',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    let (_, next) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.push(String::new());
                        return Ok(values);
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.push(String::new());
                    }
                }
                other => return Err(Self::unexpected(at, &other, "',', or identifier")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    #[test]
    fn dns1123_subdomain_message_is_kubernetes_wording() {
        assert_eq!(is_dns1123_subdomain("Abc"), vec![SUBDOMAIN_MSG.to_string()]);
    }

    #[test]
    fn dns1123_subdomains_accept_dotted_lowercase_names() {
        for ok in [
            "a",
            "abc",
            "abc-123",
            "a.b-c",
            "1.2.3",
            "a-b.c-d.e",
            &"a".repeat(253),
        ] {
            assert!(is_dns1123_subdomain(ok).is_empty(), "{ok}");
        }
    }

    #[test]
    fn dns1123_subdomains_reject_bad_names() {
        for bad in [
            "", "Abc", "a_b", "-abc", "abc-", "a..b", ".a", "a.", "a.-b", "ä",
        ] {
            assert!(!is_dns1123_subdomain(bad).is_empty(), "{bad:?}");
        }
        let long = "a".repeat(254);
        assert_eq!(
            is_dns1123_subdomain(&long),
            vec!["must be no more than 253 characters".to_string()]
        );
    }

    #[test]
    fn dns1123_labels_reject_dots_with_a_specific_message() {
        assert!(is_dns1123_label("abc-1").is_empty());
        assert_eq!(
            is_dns1123_label("a.b"),
            vec!["must not contain dots".to_string()]
        );
        assert_eq!(
            is_dns1123_label("A"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()]
        );
        let long = "a".repeat(64);
        assert_eq!(is_dns1123_label(&long), vec![max_len_error(63)]);
        assert!(is_dns1123_label(&"a".repeat(63)).is_empty());
    }

    #[test]
    fn regex_error_lists_examples_like_kubernetes() {
        assert_eq!(
            regex_error("m", "f", &["a", "b"]),
            "m (e.g. 'a',  or 'b', regex used for validation is 'f')"
        );
        assert_eq!(
            regex_error("m", "f", &[]),
            "m (regex used for validation is 'f')"
        );
    }

    #[test]
    fn qualified_names_allow_prefix_and_mixed_case_name() {
        for ok in [
            "a",
            "A_b.c-D",
            "example.com/app",
            "app.kubernetes.io/name",
            "a/B",
            "1",
        ] {
            assert!(is_qualified_name(ok).is_empty(), "{ok}");
        }
    }

    #[test]
    fn qualified_names_report_each_part() {
        assert_eq!(
            is_qualified_name("/a"),
            vec!["prefix part must be non-empty".to_string()]
        );
        let e = is_qualified_name("Example.com/a");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("prefix part a lowercase RFC 1123 subdomain"),
            "{e:?}"
        );
        let e = is_qualified_name("a/b/c");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("a qualified name must consist of"),
            "{e:?}"
        );
        assert!(e[0].ends_with(
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
        let e = is_qualified_name(&"a".repeat(64));
        assert_eq!(
            e,
            vec!["name part must be no more than 63 characters".to_string()]
        );
        let e = is_qualified_name("a/");
        assert_eq!(e[0], "name part must be non-empty");
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(
            is_qualified_name("NoUppercaseOrSpecialCharsLike=Equals").len(),
            1
        );
        assert!(!is_qualified_name("-a").is_empty());
        assert!(!is_qualified_name("a-").is_empty());
        assert!(!is_qualified_name("").is_empty());
    }

    #[test]
    fn label_values_may_be_empty() {
        for ok in ["", "a", "A-b_c.d", "12345", &"v".repeat(63)] {
            assert!(is_label_value(ok).is_empty(), "{ok}");
        }
        for bad in ["-x", "x-", "x y", "a/b", "é"] {
            assert_eq!(is_label_value(bad).len(), 1, "{bad}");
        }
        assert_eq!(
            is_label_value(&"v".repeat(64)),
            vec!["must be no more than 63 characters".to_string()]
        );
    }

    #[test]
    fn port_names_follow_iana_service_name_rules() {
        for ok in ["http", "metrics", "a1", "dns-tcp", "abcdefghijklmno"] {
            assert!(is_valid_port_name(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            is_valid_port_name("abcdefghijklmnop"),
            vec![max_len_error(15)]
        );
        assert_eq!(
            is_valid_port_name("123"),
            vec!["must contain at least one letter (a-z)".to_string()]
        );
        assert_eq!(
            is_valid_port_name("a--b"),
            vec!["must not contain consecutive hyphens".to_string()]
        );
        assert_eq!(
            is_valid_port_name("-ab"),
            vec!["must not begin or end with a hyphen".to_string()]
        );
        assert_eq!(is_valid_port_name("HTTP").len(), 2);
        assert_eq!(is_valid_port_name("").len(), 2);
    }

    #[test]
    fn env_var_names_use_the_classic_rule() {
        for ok in [
            "A",
            "my.env-name",
            "MY_ENV.NAME",
            "MyEnvName1",
            "_x",
            "-x",
            ".x",
        ] {
            assert!(is_env_var_name(ok).is_empty(), "{ok}");
        }
        assert_eq!(is_env_var_name("1A").len(), 1);
        assert_eq!(is_env_var_name("A=B").len(), 1);
        assert_eq!(is_env_var_name("a b").len(), 1);
        assert_eq!(is_env_var_name("."), vec!["must not be '.'".to_string()]);
        assert_eq!(is_env_var_name(".."), vec!["must not be '..'".to_string()]);
        assert_eq!(
            is_env_var_name("..a"),
            vec!["must not start with '..'".to_string()]
        );
    }

    #[test]
    fn config_map_keys_and_percents_and_headers() {
        assert!(is_config_map_key("key.name").is_empty());
        assert_eq!(is_config_map_key("a/b").len(), 1);
        assert_eq!(is_config_map_key("..").len(), 1);
        assert!(is_valid_percent("10%").is_empty());
        for bad in ["%", "10", "1.5%", "-1%", "abc", "10 %"] {
            assert_eq!(is_valid_percent(bad).len(), 1, "{bad}");
        }
        assert!(is_http_header_name("X-Header-Name").is_empty());
        assert_eq!(is_http_header_name("X_Header").len(), 1);
    }

    #[test]
    fn generate_name_may_end_with_a_dash() {
        assert!(name_is_dns_subdomain("abc-", true).is_empty());
        assert!(!name_is_dns_subdomain("abc-", false).is_empty());
        assert!(name_is_dns_label("ns-", true).is_empty());
    }

    fn ls(match_labels: &[(&str, &str)], exprs: &[(&str, &str, &[&str])]) -> LabelSelector {
        LabelSelector {
            match_labels: labels(match_labels),
            match_expressions: exprs
                .iter()
                .map(|(k, op, vs)| LabelSelectorRequirement {
                    key: k.to_string(),
                    operator: op.to_string(),
                    values: vs.iter().map(|v| v.to_string()).collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn absent_selector_matches_nothing_and_empty_matches_everything() {
        let l = labels(&[("a", "b")]);
        assert!(!label_selector_matches(None, &l));
        assert!(!label_selector_matches(None, &BTreeMap::new()));
        let empty = LabelSelector::default();
        assert!(label_selector_matches(Some(&empty), &l));
        assert!(label_selector_matches(Some(&empty), &BTreeMap::new()));
        assert!(
            Selector::from_label_selector(Some(&empty))
                .unwrap()
                .is_everything()
        );
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let sel = ls(&[("a", "b")], &[("tier", "In", &["web", "db"])]);
        assert!(label_selector_matches(
            Some(&sel),
            &labels(&[("a", "b"), ("tier", "db")])
        ));
        assert!(!label_selector_matches(Some(&sel), &labels(&[("a", "b")])));
        assert!(!label_selector_matches(
            Some(&sel),
            &labels(&[("tier", "db")])
        ));
        assert!(!label_selector_matches(
            Some(&sel),
            &labels(&[("a", "c"), ("tier", "web")])
        ));
    }

    #[test]
    fn each_expression_operator_matches_like_kubernetes() {
        let l = labels(&[("a", "b")]);
        let cases: &[(&str, &[&str], bool, bool)] = &[
            // (operator, values, matches {a: b}, matches {})
            ("In", &["b", "c"], true, false),
            ("In", &["c"], false, false),
            ("NotIn", &["c"], true, true),
            ("NotIn", &["b"], false, true),
            ("Exists", &[], true, false),
            ("DoesNotExist", &[], false, true),
        ];
        for (op, vs, with, without) in cases {
            let sel = ls(&[], &[("a", op, vs)]);
            assert_eq!(label_selector_matches(Some(&sel), &l), *with, "{op} {vs:?}");
            assert_eq!(
                label_selector_matches(Some(&sel), &BTreeMap::new()),
                *without,
                "{op} {vs:?} on no labels"
            );
        }
    }

    #[test]
    fn invalid_label_selectors_do_not_convert() {
        let bad_op = ls(&[], &[("a", "Gt", &["1"])]);
        assert_eq!(
            Selector::from_label_selector(Some(&bad_op)),
            Err(SelectorError::InvalidOperator("Gt".into()))
        );
        assert_eq!(
            SelectorError::InvalidOperator("in".into()).to_string(),
            "\"in\" is not a valid label selector operator"
        );
        let no_values = ls(&[], &[("a", "In", &[])]);
        assert!(Selector::from_label_selector(Some(&no_values)).is_err());
        let bad_key = ls(&[("NoUppercaseOrSpecialCharsLike=Equals", "b")], &[]);
        assert!(Selector::from_label_selector(Some(&bad_key)).is_err());
        let bad_value = ls(&[("a", "-b")], &[]);
        assert!(Selector::from_label_selector(Some(&bad_value)).is_err());
        assert!(!label_selector_matches(
            Some(&bad_value),
            &labels(&[("a", "-b")])
        ));
    }

    #[test]
    fn gt_and_lt_compare_integers_and_fail_on_non_integers() {
        let gt = Requirement::new("n", Operator::GreaterThan, vec!["5".into()]).unwrap();
        let lt = Requirement::new("n", Operator::LessThan, vec!["5".into()]).unwrap();
        assert!(gt.matches(&labels(&[("n", "6")])));
        assert!(!gt.matches(&labels(&[("n", "5")])));
        assert!(!gt.matches(&labels(&[("n", "x")])));
        assert!(!gt.matches(&BTreeMap::new()));
        assert!(lt.matches(&labels(&[("n", "-1")])));
        assert!(!lt.matches(&labels(&[("n", "5")])));
        assert!(Requirement::new("n", Operator::GreaterThan, vec!["x".into()]).is_err());
        assert!(Requirement::new("n", Operator::GreaterThan, vec![]).is_err());
    }

    #[test]
    fn parse_handles_every_operator() {
        let cases: &[(&str, &str)] = &[
            ("a=b", "a=b"),
            ("a==b", "a==b"),
            ("a!=b", "a!=b"),
            ("a in (x,y)", "a in (x,y)"),
            ("a in (y, x, x)", "a in (x,y)"),
            ("a notin (x)", "a notin (x)"),
            ("a", "a"),
            ("!a", "!a"),
            ("a>5", "a>5"),
            ("a<5", "a<5"),
            ("  a = b ,  c  ", "a=b,c"),
            ("z=1,a=2", "a=2,z=1"),
            ("a=", "a="),
            ("a in ()", "a in ()"),
            ("a in (,x)", "a in (,x)"),
            ("a in (in, notin)", "a in (in,notin)"),
            ("a=in", "a=in"),
            ("example.com/app=web", "example.com/app=web"),
            ("", ""),
        ];
        for (input, canonical) in cases {
            let sel = Selector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(sel.to_string(), *canonical, "{input}");
        }
        assert!(Selector::parse("").unwrap().is_everything());
    }

    #[test]
    fn parsed_selectors_match_labels() {
        let l = labels(&[("env", "prod"), ("tier", "web")]);
        for (sel, want) in [
            ("env=prod", true),
            ("env==prod,tier=web", true),
            ("env!=prod", false),
            ("env!=dev", true),
            ("missing!=x", true),
            ("env in (dev,prod)", true),
            ("env notin (prod)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("env=prod,missing", false),
            ("", true),
        ] {
            assert_eq!(Selector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
    }

    #[test]
    fn parse_errors_carry_the_position_of_the_bad_token() {
        let cases: &[(&str, usize, &str)] = &[
            ("a=b,", 4, "found '', expected: identifier after ','"),
            ("a=b c", 4, "found 'c', expected: ',' or 'end of string'"),
            ("a in x", 5, "found 'x', expected: '('"),
            ("a in (x", 7, "found '', expected: ',' or ')'"),
            ("a in (x y)", 8, "found 'y', expected: ',' or ')'"),
            (
                "(",
                0,
                "found '(', expected: !, identifier, or 'end of string'",
            ),
            ("a=(", 2, "found '(', expected: identifier"),
            (
                "!=a",
                0,
                "found '!=', expected: !, identifier, or 'end of string'",
            ),
            ("!a=b", 2, "found '=', expected: ',' or 'end of string'"),
            (
                "a b",
                2,
                "found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            ("a in (=)", 6, "found '=', expected: ',', ')' or identifier"),
        ];
        for (input, position, message) in cases {
            let err = Selector::parse(input).unwrap_err();
            assert_eq!(err.position, *position, "{input}: {err}");
            assert_eq!(err.kind.to_string(), *message, "{input}");
        }
    }

    #[test]
    fn parse_rejects_invalid_keys_and_values_with_typed_errors() {
        let err = Selector::parse("a=b,Bad=Key=x").unwrap_err();
        assert_eq!(err.position, 11);
        let err = Selector::parse("a=b,x/y/z=v").unwrap_err();
        assert_eq!(err.position, 4);
        assert!(matches!(
            err.kind,
            SelectorParseErrorKind::InvalidRequirement(_)
        ));
        let err = Selector::parse("x,a_=b").unwrap_err();
        assert_eq!(err.position, 2);
        assert!(
            matches!(err.kind, SelectorParseErrorKind::InvalidRequirement(ref r) if r.key == "a_")
        );
        let err = Selector::parse("a=-b").unwrap_err();
        assert!(matches!(
            err.kind,
            SelectorParseErrorKind::InvalidRequirement(_)
        ));
        let err = Selector::parse("a>x").unwrap_err();
        assert!(matches!(
            err.kind,
            SelectorParseErrorKind::InvalidRequirement(_)
        ));
        assert!(
            err.to_string()
                .starts_with("unable to parse requirement at position 0: ")
        );
    }
}
