//! Every way a catalogue can be wrong is refused with a message that says where, what and
//! what to do.

use whistle_routing::{Catalogue, CatalogueError, Problem, ProblemKind};

/// A valid catalogue; tests append rules or replace lines. Line numbers are given in the
/// comments where tests rely on them.
const BASE: &str = r#"version = "v1"
policy = "auto"

[[district]]
code = "d1"
name = "一区"
fallback = "fb"

[[street]]
code = "s1"
name = "一街道"
district = "d1"

[[community]]
code = "c1"
name = "一社区"
street = "s1"

[[department]]
code = "a"
name = "甲"

[[department]]
code = "b"
name = "乙"

[[department]]
code = "fb"
name = "兜底"
"#;

/// Line of the first line appended to `BASE`.
const APPENDED: usize = 31;

fn with_rules(rules: &str) -> String {
    format!("{BASE}\n{rules}")
}

fn problems_of(text: &str) -> (Vec<Problem>, String) {
    match Catalogue::from_toml(text) {
        Ok(_) => panic!("the catalogue should be refused:\n{text}"),
        Err(err @ CatalogueError::Invalid { .. }) => (err.problems().to_vec(), err.to_string()),
        Err(other) => panic!("expected content problems, got: {other}"),
    }
}

/// The only problem, with its message.
fn only_problem(text: &str) -> (Problem, String) {
    let (mut problems, message) = problems_of(text);
    assert_eq!(problems.len(), 1, "{message}");
    let problem = problems.remove(0);
    let line = problem.to_string();
    (problem, line)
}

fn syntax_error(text: &str) -> String {
    match Catalogue::from_toml(text) {
        Err(err @ CatalogueError::Syntax { .. }) => err.to_string(),
        Err(other) => panic!("expected a syntax error, got: {other}"),
        Ok(_) => panic!("the catalogue should be refused:\n{text}"),
    }
}

#[test]
fn the_base_catalogue_is_valid() {
    let catalogue = Catalogue::from_toml(BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalogue.version(), "v1");
    assert_eq!(BASE.lines().count() + 2, APPENDED);
}

#[test]
fn a_missing_version_is_refused() {
    let (problem, message) = only_problem(&BASE.replace("version = \"v1\"\n", ""));
    assert_eq!(problem.kind, ProblemKind::MissingVersion);
    assert_eq!(problem.line, None);
    assert!(
        message.contains("add a line such as `version = "),
        "{message}"
    );
    let (problem, _) = only_problem(&BASE.replace("\"v1\"", "\"  \""));
    assert_eq!(problem.kind, ProblemKind::MissingVersion);
}

#[test]
fn a_missing_policy_is_refused() {
    let (problem, message) = only_problem(&BASE.replace("policy = \"auto\"\n", ""));
    assert_eq!(problem.kind, ProblemKind::MissingPolicy);
    assert!(message.contains("add `policy = \"auto\"`"), "{message}");
}

#[test]
fn a_policy_that_is_not_auto_or_confirm_is_refused_with_its_line() {
    let message = syntax_error(&BASE.replace("policy = \"auto\"", "policy = \"automatic\""));
    assert!(message.contains("line 2"), "{message}");
    assert!(
        message.contains("automatic") && message.contains("confirm"),
        "{message}"
    );
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let message = syntax_error(&with_rules(
        "[[rule]]\nname = \"r\"\ncategory = \"drains\"\ndistrict = \"d1\"\ndepartments = [\"a\"]\nalternate = [\"b\"]\n",
    ));
    assert!(message.contains("alternate"), "{message}");
    assert!(
        message.contains(&format!("line {}", APPENDED + 5)),
        "{message}"
    );
    assert!(
        message.contains("deploy/config/catalogue.toml"),
        "{message}"
    );
}

#[test]
fn text_that_is_not_toml_is_refused() {
    let message = syntax_error("version = ");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn a_catalogue_without_districts_is_refused() {
    let (problems, message) = problems_of("version = \"v\"\npolicy = \"auto\"\n");
    assert_eq!(problems.len(), 1, "{message}");
    assert_eq!(problems[0].kind, ProblemKind::NoDistricts);
}

#[test]
fn an_invalid_code_is_refused_once_where_it_is_declared() {
    // The street's code is invalid; the community refers to it as written: one problem.
    let text = BASE.replace("\"s1\"", "\"Wen Hua\"");
    let (problem, message) = only_problem(&text);
    assert_eq!(problem.line, Some(9));
    assert!(
        matches!(problem.kind, ProblemKind::BadCode { .. }),
        "{message}"
    );
    assert!(
        message.contains("street id `Wen Hua` has the character 'W'"),
        "{message}"
    );
}

#[test]
fn duplicate_codes_are_refused_within_and_across_kinds() {
    let (problem, message) = only_problem(&format!(
        "{BASE}\n[[department]]\ncode = \"a\"\nname = \"甲二\"\n"
    ));
    assert_eq!(
        problem.kind,
        ProblemKind::DuplicateCode {
            code: "a".into(),
            kind: "department",
            first_kind: "department",
            first_line: 19,
        }
    );
    assert!(message.contains(&format!("line {APPENDED}")), "{message}");

    let (problem, message) = only_problem(&format!(
        "{BASE}\n[[department]]\ncode = \"s1\"\nname = \"一街道办\"\n"
    ));
    assert!(
        matches!(
            problem.kind,
            ProblemKind::DuplicateCode {
                kind: "department",
                first_kind: "street",
                first_line: 9,
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("share one namespace"), "{message}");
}

#[test]
fn an_empty_name_is_refused() {
    let (problem, message) = only_problem(&BASE.replace("name = \"乙\"", "name = \" \""));
    assert_eq!(
        problem.kind,
        ProblemKind::EmptyName {
            entry: "department `b`".into()
        }
    );
    assert_eq!(problem.line, Some(23));
    assert!(message.contains("give the name people read"), "{message}");
}

#[test]
fn a_street_in_an_undeclared_district_is_refused() {
    let (problem, message) = only_problem(&BASE.replace("district = \"d1\"", "district = \"d2\""));
    assert_eq!(problem.line, Some(9));
    assert!(
        matches!(&problem.kind, ProblemKind::StreetDistrictUnknown { street, district, .. } if street == "s1" && district == "d2"),
        "{message}"
    );
    assert!(message.contains("known districts: d1"), "{message}");
}

#[test]
fn a_community_in_an_undeclared_street_is_refused() {
    let (problem, message) = only_problem(&BASE.replace("street = \"s1\"", "street = \"s2\""));
    assert_eq!(problem.line, Some(14));
    assert!(
        matches!(&problem.kind, ProblemKind::CommunityStreetUnknown { community, street, .. } if community == "c1" && street == "s2"),
        "{message}"
    );
    assert!(message.contains("known streets: s1"), "{message}");
}

#[test]
fn a_district_without_a_fallback_is_refused() {
    let (problem, message) = only_problem(&BASE.replace("fallback = \"fb\"\n", ""));
    assert_eq!(problem.line, Some(4));
    assert_eq!(
        problem.kind,
        ProblemKind::MissingFallback {
            district: "d1".into()
        }
    );
    assert!(message.contains("add `fallback = "), "{message}");
}

#[test]
fn a_district_with_an_unknown_fallback_is_refused() {
    let (problem, message) = only_problem(&BASE.replace("fallback = \"fb\"", "fallback = \"zz\""));
    assert!(
        matches!(&problem.kind, ProblemKind::UnknownFallback { department, known, .. } if department == "zz" && known == "a, b, fb"),
        "{message}"
    );
}

const RULE: &str = "[[rule]]\nname = \"r1\"\ncategory = \"drains\"\ndistrict = \"d1\"\ndepartments = [\"a\", \"b\"]\nlead = \"a\"\n";

#[test]
fn the_sample_rule_is_valid() {
    let catalogue = Catalogue::from_toml(&with_rules(RULE)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalogue.rules().len(), 1);
    assert_eq!(catalogue.rules()[0].line, APPENDED);
}

fn rule_problem(rule: &str) -> (Problem, String) {
    let (problem, message) = only_problem(&with_rules(rule));
    assert_eq!(problem.line, Some(APPENDED), "{message}");
    (problem, message)
}

#[test]
fn rules_need_a_unique_name() {
    let (problem, _) = rule_problem(&RULE.replace("\"r1\"", "\"\""));
    assert_eq!(problem.kind, ProblemKind::EmptyRuleName);

    let second = RULE.replace("\"drains\"", "\"noise\"");
    let (problems, message) = problems_of(&with_rules(&format!("{RULE}\n{second}")));
    assert_eq!(problems.len(), 1, "{message}");
    assert_eq!(
        problems[0].kind,
        ProblemKind::DuplicateRuleName {
            rule: "r1".into(),
            first_line: APPENDED
        }
    );
    assert_eq!(problems[0].line, Some(APPENDED + 7));
}

#[test]
fn an_unknown_category_is_refused_listing_the_known_ones() {
    let (problem, message) = rule_problem(&RULE.replace("\"drains\"", "\"sewers\""));
    assert!(
        matches!(&problem.kind, ProblemKind::UnknownCategory { category, .. } if category == "sewers"),
        "{message}"
    );
    assert!(
        message.contains("water_power_pipes") && message.contains("\"*\""),
        "{message}"
    );
}

#[test]
fn a_rule_needs_exactly_one_scope() {
    let (problem, message) = rule_problem(&RULE.replace("district = \"d1\"\n", ""));
    assert_eq!(
        problem.kind,
        ProblemKind::MissingScope { rule: "r1".into() }
    );
    assert!(
        message.contains("exactly one of `district`, `street` or `community`"),
        "{message}"
    );

    let (problem, message) = rule_problem(&RULE.replace(
        "district = \"d1\"\n",
        "district = \"d1\"\nstreet = \"s1\"\n",
    ));
    assert!(
        matches!(&problem.kind, ProblemKind::SeveralScopes { given, .. } if given == "district = \"d1\", street = \"s1\""),
        "{message}"
    );
}

#[test]
fn a_rule_for_an_undeclared_place_is_refused() {
    let (problem, message) = rule_problem(&RULE.replace("district = \"d1\"", "community = \"c9\""));
    assert!(
        matches!(&problem.kind, ProblemKind::UnknownScope { kind: "community", code, .. } if code == "c9"),
        "{message}"
    );
    assert!(message.contains("known: c1"), "{message}");
}

#[test]
fn a_rule_must_summon_someone() {
    let (problem, message) = rule_problem(
        &RULE
            .replace("departments = [\"a\", \"b\"]\n", "")
            .replace("lead = \"a\"\n", ""),
    );
    assert_eq!(
        problem.kind,
        ProblemKind::NoDepartments { rule: "r1".into() }
    );
    assert!(message.contains("delete the rule"), "{message}");
}

#[test]
fn a_rule_naming_an_undeclared_department_is_refused() {
    let (problem, message) = rule_problem(&format!("{RULE}alternates = [\"zz\"]\n"));
    assert!(
        matches!(&problem.kind, ProblemKind::UnknownDepartment { field: "alternates", department, .. } if department == "zz"),
        "{message}"
    );
    assert!(message.contains("known departments: a, b, fb"), "{message}");

    let (problem, message) = rule_problem(&RULE.replace("[\"a\", \"b\"]", "[\"a\", \"Zhu Jian\"]"));
    assert!(
        matches!(problem.kind, ProblemKind::BadCode { .. }),
        "{message}"
    );
    assert!(message.contains("department id `Zhu Jian`"), "{message}");
}

#[test]
fn a_department_listed_twice_is_refused() {
    let (problem, message) = rule_problem(&RULE.replace("[\"a\", \"b\"]", "[\"a\", \"b\", \"a\"]"));
    assert_eq!(
        problem.kind,
        ProblemKind::RepeatedDepartment {
            rule: "r1".into(),
            field: "departments",
            department: "a".into()
        }
    );
    assert!(message.contains("list it once"), "{message}");
}

#[test]
fn several_departments_need_a_lead_and_one_needs_none() {
    let (problem, message) = rule_problem(&RULE.replace("lead = \"a\"\n", ""));
    assert!(
        matches!(problem.kind, ProblemKind::MissingLead { .. }),
        "{message}"
    );
    assert!(message.contains("add `lead = "), "{message}");

    let single = RULE
        .replace("[\"a\", \"b\"]", "[\"b\"]")
        .replace("lead = \"a\"\n", "");
    let catalogue = Catalogue::from_toml(&with_rules(&single)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalogue.rules()[0].lead.as_str(), "b");
}

#[test]
fn a_lead_must_be_one_of_the_departments() {
    let (problem, message) = rule_problem(&RULE.replace("lead = \"a\"", "lead = \"fb\""));
    assert_eq!(
        problem.kind,
        ProblemKind::LeadNotSummoned {
            rule: "r1".into(),
            lead: "fb".into(),
            departments: "`a`, `b`".into()
        }
    );
    assert!(message.contains("choose one of them as lead"), "{message}");
}

#[test]
fn an_alternate_must_not_be_summoned_already() {
    let (problem, message) = rule_problem(&format!("{RULE}alternates = [\"fb\", \"b\"]\n"));
    assert_eq!(
        problem.kind,
        ProblemKind::AlternateAlsoSummoned {
            rule: "r1".into(),
            department: "b".into()
        }
    );
    assert!(message.contains("remove it from `alternates`"), "{message}");
}

#[test]
fn two_rules_for_the_same_place_and_category_are_refused() {
    let second = RULE.replace("\"r1\"", "\"r2\"");
    let (problems, message) = problems_of(&with_rules(&format!("{RULE}\n{second}")));
    assert_eq!(problems.len(), 1, "{message}");
    assert_eq!(
        problems[0].kind,
        ProblemKind::DuplicateRule {
            rule: "r2".into(),
            other: "r1".into(),
            other_line: APPENDED,
            scope: "district `d1`".into(),
            category: "`drains`".into(),
        }
    );
    assert!(
        message.contains(&format!(
            "line {}: rule `r2` routes `drains` in district `d1`",
            APPENDED + 7
        )),
        "{message}"
    );

    // The same category in another scope, or "*" beside it, is fine.
    let street = RULE
        .replace("\"r1\"", "\"r3\"")
        .replace("district = \"d1\"", "street = \"s1\"");
    let any = RULE
        .replace("\"r1\"", "\"r4\"")
        .replace("\"drains\"", "\"*\"");
    let catalogue = Catalogue::from_toml(&with_rules(&format!("{RULE}\n{street}\n{any}")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalogue.rules().len(), 3);

    let any2 = any.replace("\"r4\"", "\"r5\"");
    let (problems, message) = problems_of(&with_rules(&format!("{any}\n{any2}")));
    assert!(
        matches!(&problems[..], [Problem { kind: ProblemKind::DuplicateRule { category, .. }, .. }] if category == "every category (`*`)"),
        "{message}"
    );
}

#[test]
fn every_problem_is_listed_in_file_order() {
    let text = with_rules(&format!(
        "{}\n{}",
        RULE.replace("lead = \"a\"", "lead = \"zz\""),
        RULE.replace("\"r1\"", "\"r2\"")
            .replace("\"drains\"", "\"sewers\"")
    ))
    .replace("fallback = \"fb\"\n", "");
    let (problems, message) = problems_of(&text);
    let lines: Vec<Option<usize>> = problems.iter().map(|p| p.line).collect();
    // Removing the `fallback` line moved the rules up by one.
    assert_eq!(
        lines,
        [Some(4), Some(APPENDED - 1), Some(APPENDED + 6)],
        "{message}"
    );
    assert!(
        message.starts_with("routing catalogue has 3 problems; fix each"),
        "{message}"
    );
    assert!(
        message.contains("\n  - line 4: district `d1` has no `fallback`"),
        "{message}"
    );
}
