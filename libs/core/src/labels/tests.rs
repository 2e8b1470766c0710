//! Tests of the name checks (against Kubernetes' messages) and of label selectors (conversion,
//! matching, parsing and its errors).

use std::collections::BTreeMap;

use super::*;
use crate::model::{LabelSelector, LabelSelectorRequirement};

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
    assert!(
        e[0].ends_with("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
    );
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
    assert!(matches!(err.kind, SelectorParseErrorKind::InvalidRequirement(ref r) if r.key == "a_"));
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
