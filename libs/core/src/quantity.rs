//! Kubernetes resource quantities (`k8s.io/apimachinery/pkg/api/resource.Quantity`): parsing
//! (`1`, `0.5`, `500m`, `100Mi`, `1.5Gi`, `10M`, `1e3`, `-2`), exact comparison, and the
//! canonical spelling Kubernetes prints (`0.5` → `500m`, `1.5Gi` → `1536Mi`).
//!
//! Representation: `mantissa × 10^exponent`, exact, with `exponent ≥ -9` (Kubernetes rounds
//! anything finer up to the next nano unit) and no trailing zeros in the mantissa. As in
//! Kubernetes, values that do not take the exact int64 "fast path" are rounded up to nano
//! units and capped at 2^63-1. Equality and order are by value: `1k == 1000`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// How a quantity was written, which decides how it is printed back (Kubernetes:
/// `resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// Powers of ten with SI suffixes: `n u m "" k M G T P E`.
    DecimalSI,
    /// Powers of two: `Ki Mi Gi Ti Pi Ei`.
    BinarySI,
    /// Scientific notation: `1e3`, `5E-3`.
    DecimalExponent,
}

/// Why a string is not a quantity, with Kubernetes' messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text does not have the shape of a quantity (Kubernetes: `ErrFormatWrong`).
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    FormatWrong,
    /// The number part cannot be read (Kubernetes: `ErrNumeric`).
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The suffix is unknown (Kubernetes: `ErrSuffix`).
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// An exact resource quantity (Kubernetes: `resource.Quantity`).
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
    format: QuantityFormat,
}

/// (2^63 - 1) × 10^9: the largest quantity in nano units.
const MAX_NANOS: i128 = (i64::MAX as i128) * 1_000_000_000;

struct Parts<'a> {
    positive: bool,
    /// The number as written had at least one digit (the slow path needs one).
    has_digit: bool,
    /// Integer digits without leading zeros; `"0"` when there were none.
    num: &'a str,
    /// Fraction digits as written, possibly empty.
    denom: &'a str,
    suffix: &'a str,
}

/// Kubernetes' `parseQuantityString`.
fn split(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    let digits_start = pos;
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Parts {
            positive,
            has_digit: pos > digits_start,
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = &s[num_start..pos];
    if num.is_empty() {
        num = "0";
    }
    let mut has_digit = pos > digits_start;
    let mut denom = "";
    if pos < end && b[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[denom_start..pos];
        has_digit |= !denom.is_empty();
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::FormatWrong);
    }
    Ok(Parts {
        positive,
        has_digit,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// Kubernetes' `suffixer.interpret`: (base, exponent, format).
fn interpret(suffix: &str) -> Option<(u32, i32, QuantityFormat)> {
    use QuantityFormat::*;
    let r = match suffix {
        "" => (10, 0, DecimalSI),
        "n" => (10, -9, DecimalSI),
        "u" => (10, -6, DecimalSI),
        "m" => (10, -3, DecimalSI),
        "k" => (10, 3, DecimalSI),
        "M" => (10, 6, DecimalSI),
        "G" => (10, 9, DecimalSI),
        "T" => (10, 12, DecimalSI),
        "P" => (10, 15, DecimalSI),
        "E" => (10, 18, DecimalSI),
        "Ki" => (2, 10, BinarySI),
        "Mi" => (2, 20, BinarySI),
        "Gi" => (2, 30, BinarySI),
        "Ti" => (2, 40, BinarySI),
        "Pi" => (2, 50, BinarySI),
        "Ei" => (2, 60, BinarySI),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E'])?;
            let exponent: i64 = rest.parse().ok()?;
            (10, i32::try_from(exponent).ok()?, DecimalExponent)
        }
    };
    Some(r)
}

/// Decimal digit string arithmetic for the exact "slow path".
fn strip_leading_zeros(d: &str) -> String {
    let t = d.trim_start_matches('0');
    t.to_string()
}

fn double(d: &str) -> String {
    let mut out = Vec::with_capacity(d.len() + 1);
    let mut carry = 0u8;
    for c in d.bytes().rev() {
        let v = (c - b'0') * 2 + carry;
        out.push(b'0' + v % 10);
        carry = v / 10;
    }
    if carry > 0 {
        out.push(b'0' + carry);
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn increment(d: &str) -> String {
    let mut out: Vec<u8> = d.bytes().collect();
    let mut i = out.len();
    loop {
        if i == 0 {
            out.insert(0, b'1');
            break;
        }
        i -= 1;
        if out[i] == b'9' {
            out[i] = b'0';
        } else {
            out[i] += 1;
            break;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

fn digits_to_i128(d: &str) -> i128 {
    d.bytes().fold(0i128, |acc, c| {
        acc.saturating_mul(10).saturating_add(i128::from(c - b'0'))
    })
}

impl Quantity {
    /// Parses a quantity as Kubernetes does (`resource.ParseQuantity`).
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        if s == "0" {
            return Ok(Self::zero(QuantityFormat::DecimalSI));
        }
        let p = split(s)?;
        let (base, exponent, mut format) = interpret(p.suffix).ok_or(QuantityError::Suffix)?;
        let sign: i128 = if p.positive { 1 } else { -1 };

        // The exact int64 fast path.
        if base == 10 {
            let digits = p.num.len() + p.denom.len();
            let scale = i64::from(exponent) - p.denom.len() as i64;
            if digits <= 18 && scale >= -9 {
                let value = digits_to_i128(&format!("{}{}", p.num, p.denom));
                return Ok(Self::normalized(sign * value, scale, format));
            }
        } else if p.denom.is_empty() {
            let precision =
                15 - p.num.len() as i64 - i64::from((exponent as f32 * 3.0 / 10.0) as i32) - 1;
            if precision >= 0 {
                let value = digits_to_i128(p.num);
                let shifted = value << exponent;
                if shifted <= i128::from(i64::MAX) {
                    return Ok(Self::normalized(sign * shifted, 0, format));
                }
            }
        }

        // The exact slow path: round up to nano units, cap at 2^63-1.
        if !p.has_digit {
            return Err(QuantityError::Numeric);
        }
        let mut digits = strip_leading_zeros(&format!("{}{}", p.num, p.denom));
        let mut exp10 = -(p.denom.len() as i64);
        if base == 10 {
            exp10 += i64::from(exponent);
        } else {
            for _ in 0..exponent {
                digits = double(&digits);
            }
        }
        if digits.is_empty() {
            return Ok(Self::zero(format));
        }
        if exp10 < -9 {
            let drop = (-9 - exp10) as u64;
            if drop >= digits.len() as u64 {
                digits = "1".to_string();
            } else {
                let keep = digits.len() - drop as usize;
                let (kept, dropped) = digits.split_at(keep);
                let round_up = dropped.bytes().any(|c| c != b'0');
                let kept = if kept.is_empty() { "0" } else { kept };
                digits = if round_up {
                    increment(kept)
                } else {
                    kept.to_string()
                };
            }
            exp10 = -9;
        }
        let magnitude = digits.len() as i64 + exp10;
        let nanos = if magnitude > 19 {
            MAX_NANOS
        } else {
            let shift = u32::try_from(exp10 + 9).unwrap_or(0);
            digits_to_i128(&digits)
                .saturating_mul(10i128.pow(shift))
                .min(MAX_NANOS)
        };
        if format == QuantityFormat::BinarySI && nanos < 1_000_000_000 {
            format = QuantityFormat::DecimalSI;
        }
        Ok(Self::normalized(sign * nanos, -9, format))
    }

    fn zero(format: QuantityFormat) -> Self {
        Self {
            mantissa: 0,
            exponent: 0,
            format,
        }
    }

    fn normalized(mut mantissa: i128, exponent: i64, format: QuantityFormat) -> Self {
        if mantissa == 0 {
            return Self::zero(format);
        }
        let mut exponent = exponent;
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        Self {
            mantissa,
            exponent: i32::try_from(exponent).unwrap_or(i32::MAX),
            format,
        }
    }

    /// How the quantity was written.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// True below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// True when the value is a whole number.
    pub fn is_integer(&self) -> bool {
        self.mantissa == 0 || self.exponent >= 0
    }

    /// The value in thousandths, rounded up (Kubernetes: `MilliValue`), saturating.
    pub fn milli_value(&self) -> i128 {
        let shift = i64::from(self.exponent) + 3;
        if shift >= 0 {
            let factor = u32::try_from(shift)
                .ok()
                .and_then(|s| 10i128.checked_pow(s));
            match factor {
                Some(f) => self.mantissa.saturating_mul(f),
                None if self.mantissa < 0 => i128::MIN,
                None => i128::MAX,
            }
        } else {
            let divisor = 10i128.pow(u32::try_from(-shift).unwrap_or(0).min(38));
            let q = self.mantissa / divisor;
            if self.mantissa % divisor > 0 {
                q + 1
            } else {
                q
            }
        }
    }

    /// The canonical spelling Kubernetes prints (`Quantity.String()`).
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        let mut format = self.format;
        if format == QuantityFormat::BinarySI {
            let small = self.exponent < 0 || (self.exponent <= 3 && self.abs_as_integer() < 1024);
            if small || !self.is_integer() {
                format = QuantityFormat::DecimalSI;
            }
        }
        if format == QuantityFormat::BinarySI {
            let mut value = self.mantissa * 10i128.pow(self.exponent.unsigned_abs());
            let mut power = 0;
            while value.abs() >= 1024 && value % 1024 == 0 && power < 6 {
                value /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return format!("{value}{suffix}");
        }
        let mut mantissa = self.mantissa;
        let mut exponent = self.exponent;
        match exponent % 3 {
            1 | -2 => {
                mantissa *= 10;
                exponent -= 1;
            }
            2 | -1 => {
                mantissa *= 100;
                exponent -= 2;
            }
            _ => {}
        }
        let suffix = match format {
            QuantityFormat::DecimalExponent if exponent == 0 => String::new(),
            QuantityFormat::DecimalExponent => format!("e{exponent}"),
            _ => match exponent {
                -9 => "n".into(),
                -6 => "u".into(),
                -3 => "m".into(),
                0 => String::new(),
                3 => "k".into(),
                6 => "M".into(),
                9 => "G".into(),
                12 => "T".into(),
                15 => "P".into(),
                18 => "E".into(),
                other => format!("e{other}"),
            },
        };
        format!("{mantissa}{suffix}")
    }

    /// |value| when it is a small whole number (exponent ≤ 3), for the BinarySI printing rule.
    fn abs_as_integer(&self) -> i128 {
        self.mantissa.abs() * 10i128.pow(self.exponent.unsigned_abs().min(3))
    }

    fn cmp_value(&self, other: &Self) -> Ordering {
        let sign = |q: &Self| q.mantissa.signum();
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            o => return o,
        }
        if self.mantissa == 0 {
            return Ordering::Equal;
        }
        let a = self.mantissa.unsigned_abs().to_string();
        let b = other.mantissa.unsigned_abs().to_string();
        let mag_a = a.len() as i64 + i64::from(self.exponent);
        let mag_b = b.len() as i64 + i64::from(other.exponent);
        let abs_order = match mag_a.cmp(&mag_b) {
            Ordering::Equal => {
                let width = a.len().max(b.len());
                format!("{a:0<width$}").cmp(&format!("{b:0<width$}"))
            }
            o => o,
        };
        if self.mantissa < 0 {
            abs_order.reverse()
        } else {
            abs_order
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_value(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_value(other)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn canonical_spelling_matches_kubernetes() {
        let cases = [
            ("0", "0"),
            ("00", "0"),
            ("0.0", "0"),
            ("-0", "0"),
            ("1", "1"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("1.5", "1500m"),
            ("500m", "500m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("1m", "1m"),
            ("0.001", "1m"),
            ("0.0001", "100u"),
            ("1n", "1n"),
            ("1u", "1u"),
            ("100Mi", "100Mi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1Ki", "1Ki"),
            ("1023", "1023"),
            ("1024", "1024"),
            ("0.1Ki", "102400m"),
            ("512Ki", "512Ki"),
            ("1025Ki", "1025Ki"),
            ("10M", "10M"),
            ("1k", "1k"),
            ("1000", "1k"),
            ("1200", "1200"),
            ("12k", "12k"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("123Mi", "123Mi"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("12e-1", "1200e-3"),
            ("1e0", "1"),
            ("-1", "-1"),
            ("-500m", "-500m"),
            ("+2", "2"),
            ("1.", "1"),
            ("5E", "5E"),
            ("2T", "2T"),
            ("3P", "3P"),
            ("4G", "4G"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).to_string(), want, "{input}");
        }
    }

    #[test]
    fn finer_than_nano_rounds_up() {
        assert_eq!(q("0.0000000001").to_string(), "1n");
        assert_eq!(q("1.0000000001").to_string(), "1000000001n");
        assert_eq!(q("0.1n").to_string(), "1n");
        assert_eq!(q("-0.1n").to_string(), "-1n");
        assert_eq!(q("1e-20").to_string(), "1e-9");
    }

    #[test]
    fn huge_values_are_capped_outside_the_fast_path() {
        assert_eq!(q("9223372036854775807").to_string(), "9223372036854775807");
        assert_eq!(
            q("99999999999999999999999").to_string(),
            "9223372036854775807"
        );
        assert_eq!(q("100Ei").to_string(), "9223372036854775807");
        assert_eq!(q("1e100").to_string(), "10e99");
    }

    #[test]
    fn bad_strings_give_kubernetes_errors() {
        for bad in ["", "abc", "1.2.3", "1 ", " 1", "1Mi2x", "--1", "1e", "1Gb"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Quantity::parse(""), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("1x"), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("1Gb"), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("1iM"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1kk"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse(".e-20"), Err(QuantityError::Numeric));
        assert_eq!(
            QuantityError::Suffix.to_string(),
            "unable to parse quantity's suffix"
        );
    }

    #[test]
    fn quantities_compare_by_value() {
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("0.5"), q("500m"));
        assert!(q("1") > q("999m"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("100Mi") < q("1Gi"));
        assert!(q("-1") < q("0"));
        assert!(q("-2") < q("-1"));
        assert!(q("1e100") > q("100Ei"));
        assert!(q("10M") < q("10Mi"));
        assert!(q("2") > q("1500m"));
        assert_eq!(q("0"), q("0Mi"));
    }

    #[test]
    fn integer_and_milli_views() {
        assert!(q("2").is_integer());
        assert!(q("1k").is_integer());
        assert!(!q("1.5").is_integer());
        assert!(!q("500m").is_integer());
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("1.0001").milli_value(), 1001);
        assert_eq!(q("2Ki").milli_value(), 2_048_000);
        assert!(q("-1").is_negative());
        assert!(q("0").is_zero());
        assert_eq!(q("10Mi").format(), QuantityFormat::BinarySI);
        assert_eq!(q("0.5Ki").format(), QuantityFormat::BinarySI);
        assert_eq!(q("1e3").format(), QuantityFormat::DecimalExponent);
    }
}
