//! Label selectors: [`Selector`], a parsed selector (requirements ANDed) built from a
//! [`LabelSelector`] (`metav1.LabelSelectorAsSelector`) or parsed from the string syntax of List
//! calls (`labels.Parse` in `k8s.io/apimachinery/pkg/labels/selector.go`), and matched against a
//! label set.
//!
//! Invariants: an absent selector selects nothing ([`Selector::nothing`]); an empty one selects
//! everything ([`Selector::everything`]). Every requirement of a [`Selector`] passed Kubernetes'
//! `NewRequirement` checks (valid key, valid values, value count fitting the operator).

use std::collections::BTreeMap;
use std::fmt;

use super::{is_label_value, is_qualified_name};
use crate::model::LabelSelector;

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
