//! Which rule decides, whom a re-dispatch summons, the fallback owner, policies and
//! locations, on a small catalogue written for the purpose.

use whistle_events::{Category, CommunityId, DepartmentId, Location};
use whistle_routing::{Catalogue, DispatchPolicy, Route, UnknownLocation};

/// d1 → s1 → c1, c2; d1 → s2 (confirm) → c3; d2 → s3 → c4 (no rules in d2).
const CATALOGUE: &str = r#"
version = "test-7"
policy = "auto"

[[district]]
code = "d1"
name = "一区"
fallback = "fb"

[[district]]
code = "d2"
name = "二区"
fallback = "fb2"

[[street]]
code = "s1"
name = "一街道"
district = "d1"

[[street]]
code = "s2"
name = "二街道"
district = "d1"
policy = "confirm"

[[street]]
code = "s3"
name = "三街道"
district = "d2"

[[community]]
code = "c1"
name = "一社区"
street = "s1"

[[community]]
code = "c2"
name = "二社区"
street = "s1"

[[community]]
code = "c3"
name = "三社区"
street = "s2"

[[community]]
code = "c4"
name = "四社区"
street = "s3"

[[department]]
code = "a"
name = "甲"

[[department]]
code = "b"
name = "乙"

[[department]]
code = "c"
name = "丙"

[[department]]
code = "x"
name = "戊"

[[department]]
code = "y"
name = "己"

[[department]]
code = "fb"
name = "兜底一"

[[department]]
code = "fb2"
name = "兜底二"

[[rule]]
name = "d-drains"
category = "drains"
district = "d1"
departments = ["a", "b"]
lead = "a"
alternates = ["x", "y"]

[[rule]]
name = "d-any"
category = "*"
district = "d1"
departments = ["c"]

[[rule]]
name = "d-noise"
category = "noise"
district = "d1"
departments = ["y"]

[[rule]]
name = "s1-drains"
category = "drains"
street = "s1"
departments = ["b"]

[[rule]]
name = "s1-any"
category = "*"
street = "s1"
departments = ["x"]

[[rule]]
name = "c1-drains"
category = "drains"
community = "c1"
departments = ["c", "a"]
lead = "c"
"#;

fn catalogue() -> Catalogue {
    Catalogue::from_toml(CATALOGUE).unwrap_or_else(|e| panic!("{e}"))
}

fn dept(code: &str) -> DepartmentId {
    DepartmentId::parse(code).expect("valid code")
}

fn depts(codes: &[&str]) -> Vec<DepartmentId> {
    codes.iter().map(|c| dept(c)).collect()
}

fn at(catalogue: &Catalogue, community: &str) -> Location {
    catalogue
        .location_of(&CommunityId::parse(community).expect("valid code"))
        .expect("declared community")
}

/// The rule and lead of a summons, or panics.
fn summoned(route: &Route) -> (&str, &str, Vec<&str>) {
    match route {
        Route::Summon {
            rule,
            lead,
            departments,
            ..
        } => (
            rule.as_str(),
            lead.as_str(),
            departments.iter().map(DepartmentId::as_str).collect(),
        ),
        Route::Dispatcher { reason, .. } => {
            panic!("expected a summons, got a dispatcher: {reason}")
        }
    }
}

#[test]
fn a_community_rule_beats_street_and_district_rules() {
    let catalogue = catalogue();
    let route = catalogue.route(&at(&catalogue, "c1"), Category::Drains, &[]);
    assert_eq!(summoned(&route), ("c1-drains", "c", vec!["c", "a"]));
    assert_eq!(
        route.reason(),
        "rule `c1-drains` (catalogue test-7): 下水道 (drains) in 一社区 go to 丙 (lead) and 甲"
    );
    assert_eq!(route.version(), "test-7");
}

#[test]
fn a_street_rule_beats_district_rules() {
    let catalogue = catalogue();
    let route = catalogue.route(&at(&catalogue, "c2"), Category::Drains, &[]);
    assert_eq!(summoned(&route), ("s1-drains", "b", vec!["b"]));
}

#[test]
fn scope_comes_before_category_a_street_star_beats_a_district_exact_rule() {
    let catalogue = catalogue();
    let route = catalogue.route(&at(&catalogue, "c2"), Category::Noise, &[]);
    assert_eq!(summoned(&route), ("s1-any", "x", vec!["x"]));
    assert!(
        route
            .reason()
            .contains("every category, here 噪音扰民 (noise), in 一街道 goes to 戊"),
        "{}",
        route.reason()
    );
}

#[test]
fn an_exact_category_beats_star_at_the_same_scope() {
    let catalogue = catalogue();
    let c3 = at(&catalogue, "c3");
    assert_eq!(
        summoned(&catalogue.route(&c3, Category::Drains, &[])),
        ("d-drains", "a", vec!["a", "b"])
    );
    assert_eq!(
        summoned(&catalogue.route(&c3, Category::Noise, &[])),
        ("d-noise", "y", vec!["y"])
    );
    assert_eq!(
        summoned(&catalogue.route(&c3, Category::Gas, &[])),
        ("d-any", "c", vec!["c"])
    );
    let rule = catalogue
        .rule_for(&c3, Category::Gas)
        .expect("d-any matches");
    assert_eq!(rule.category, None);
}

#[test]
fn re_dispatch_goes_through_alternates_then_the_rule_then_the_fallback_then_a_dispatcher() {
    let catalogue = catalogue();
    let c3 = at(&catalogue, "c3");
    let route = |tried: &[&str]| catalogue.route(&c3, Category::Drains, &depts(tried));

    // a and b summoned, one declined: the first alternate.
    let first = route(&["a", "b"]);
    assert_eq!(summoned(&first), ("d-drains", "x", vec!["x"]));
    assert!(
        first
            .reason()
            .contains("戊, the next alternate of rule `d-drains`")
            && first
                .reason()
                .contains("replacing a department that declined"),
        "{}",
        first.reason()
    );
    assert_eq!(
        summoned(&route(&["a", "b", "x"])),
        ("d-drains", "y", vec!["y"])
    );

    // The caller only listed a and the alternates: b, a department of the rule, is next.
    let rule_department = route(&["a", "x", "y"]);
    assert_eq!(summoned(&rule_department), ("d-drains", "b", vec!["b"]));
    assert!(
        rule_department
            .reason()
            .contains("乙, a department of rule `d-drains` not yet tried"),
        "{}",
        rule_department.reason()
    );

    let fallback = route(&["a", "b", "x", "y"]);
    assert_eq!(summoned(&fallback), ("fallback:d1", "fb", vec!["fb"]));
    assert!(
        fallback
            .reason()
            .contains("兜底一, the fallback owner (兜底) of 一区"),
        "{}",
        fallback.reason()
    );

    let dispatcher = route(&["a", "b", "x", "y", "fb"]);
    let Route::Dispatcher { reason, version } = &dispatcher else {
        panic!("expected a dispatcher, got {dispatcher:?}");
    };
    assert_eq!(version, "test-7");
    assert!(reason.contains("every candidate"), "{reason}");
    assert!(reason.contains("declined"), "{reason}");
    assert!(reason.contains("戊, 己, 甲, 乙"), "{reason}");
}

#[test]
fn alternates_are_skipped_when_already_tried_in_any_order() {
    let catalogue = catalogue();
    let c3 = at(&catalogue, "c3");
    // y was summoned by hand earlier; x declined: nothing of the rule is left but b.
    let route = catalogue.route(&c3, Category::Drains, &depts(&["y", "x", "a"]));
    assert_eq!(summoned(&route), ("d-drains", "b", vec!["b"]));
}

#[test]
fn with_no_rule_the_fallback_owner_is_summoned_then_a_dispatcher_decides() {
    let catalogue = catalogue();
    let c4 = at(&catalogue, "c4");
    let first = catalogue.route(&c4, Category::Heating, &[]);
    assert_eq!(summoned(&first), ("fallback:d2", "fb2", vec!["fb2"]));
    assert_eq!(
        first.reason(),
        "no rule for 供暖 (heating) in 三街道 (catalogue test-7): the fallback owner (兜底) of 二区, 兜底二, is summoned"
    );

    // Someone else was summoned by hand and declined: the fallback owner replaces them.
    let after_decline = catalogue.route(&c4, Category::Heating, &depts(&["a"]));
    assert_eq!(
        summoned(&after_decline),
        ("fallback:d2", "fb2", vec!["fb2"])
    );
    assert!(
        after_decline
            .reason()
            .contains("replacing a department that declined")
    );

    let last = catalogue.route(&c4, Category::Heating, &depts(&["fb2"]));
    assert!(
        matches!(&last, Route::Dispatcher { reason, .. } if reason.contains("every candidate declined")),
        "{last:?}"
    );
}

#[test]
fn streets_may_override_the_catalogue_policy() {
    let catalogue = catalogue();
    let street = |code: &str| code.parse().expect("valid code");
    assert_eq!(catalogue.default_policy(), DispatchPolicy::Auto);
    assert_eq!(catalogue.policy_for(&street("s1")), DispatchPolicy::Auto);
    assert_eq!(catalogue.policy_for(&street("s2")), DispatchPolicy::Confirm);
    // An unknown street gets the catalogue's policy.
    assert_eq!(
        catalogue.policy_for(&street("nowhere")),
        DispatchPolicy::Auto
    );

    // And the other way round: a catalogue that confirms, with one street that does not.
    let confirming = Catalogue::from_toml(
        &CATALOGUE
            .replace("policy = \"auto\"", "policy = \"confirm\"")
            .replace(
                "policy = \"confirm\"\n\n[[street]]\ncode = \"s3\"",
                "policy = \"confirm\"\n\n[[street]]\ncode = \"s3\"\npolicy = \"auto\"",
            ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(confirming.default_policy(), DispatchPolicy::Confirm);
    assert_eq!(
        confirming.policy_for(&street("s1")),
        DispatchPolicy::Confirm
    );
    assert_eq!(confirming.policy_for(&street("s3")), DispatchPolicy::Auto);
}

fn location(district: &str, street: &str, community: &str) -> Location {
    Location {
        district: district.parse().expect("valid code"),
        street: street.parse().expect("valid code"),
        community: community.parse().expect("valid code"),
        grid: None,
        place: None,
    }
}

#[test]
fn unknown_locations_say_which_part_is_wrong_and_list_the_known_ones() {
    let catalogue = catalogue();
    let check = |d, s, c| catalogue.check_location(&location(d, s, c));

    let err = check("d9", "s1", "c1").expect_err("unknown district");
    assert!(matches!(err, UnknownLocation::District { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("district `d9` is not in the routing catalogue")
            && err.to_string().contains("d1 一区, d2 二区"),
        "{err}"
    );

    let err = check("d1", "s9", "c1").expect_err("unknown street");
    assert!(matches!(err, UnknownLocation::Street { .. }), "{err:?}");
    assert!(err.to_string().contains("s1 一街道, s2 二街道"), "{err}");

    let err = check("d2", "s1", "c1").expect_err("street of another district");
    assert_eq!(
        err.to_string(),
        "street `s1` belongs to district `d1`, not to `d2`: correct the location's district"
    );

    let err = check("d1", "s1", "c9").expect_err("unknown community");
    assert!(matches!(err, UnknownLocation::Community { .. }), "{err:?}");
    assert!(err.to_string().contains("c1 一社区, c2 二社区"), "{err}");

    let err = check("d1", "s1", "c3").expect_err("community of another street");
    assert!(
        matches!(&err, UnknownLocation::CommunityInOtherStreet { actual, .. } if actual.as_str() == "s2"),
        "{err:?}"
    );

    assert_eq!(check("d1", "s2", "c3"), Ok(()));
}

#[test]
fn an_unknown_location_is_routed_to_a_dispatcher() {
    let catalogue = catalogue();
    let route = catalogue.route(&location("d1", "s1", "c9"), Category::Drains, &[]);
    let Route::Dispatcher { reason, version } = &route else {
        panic!("expected a dispatcher, got {route:?}");
    };
    assert_eq!(version, "test-7");
    assert!(reason.contains("community `c9`"), "{reason}");
    assert!(
        reason.contains("a street dispatcher must decide"),
        "{reason}"
    );
}

#[test]
fn a_route_serializes_with_its_kind() {
    let catalogue = catalogue();
    let route = catalogue.route(&at(&catalogue, "c2"), Category::Drains, &[]);
    let text = toml::to_string(&route).expect("serializable");
    assert!(text.contains("kind = \"summon\""), "{text}");
    assert!(text.contains("rule = \"s1-drains\""), "{text}");
}
