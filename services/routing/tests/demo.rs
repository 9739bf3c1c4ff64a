//! The committed demo catalogue, `deploy/config/catalogue.toml`.

use std::path::PathBuf;

use whistle_events::{Category, CommunityId, DepartmentId, StreetId};
use whistle_routing::{Catalogue, CatalogueError, DispatchPolicy, Route};

fn demo_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/catalogue.toml")
}

fn id<T: std::str::FromStr>(code: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    code.parse().expect("valid code")
}

#[test]
fn the_demo_catalogue_loads_from_the_file_and_from_the_binary() {
    let loaded = Catalogue::load(&demo_path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.version(), "2026-11-01");
    let built_in = Catalogue::demo();
    assert_eq!(built_in.version(), loaded.version());
    assert_eq!(built_in.rules(), loaded.rules());
    assert_eq!(built_in.default_policy(), DispatchPolicy::Auto);
}

#[test]
fn the_demo_directory_has_the_seeds_places_and_departments() {
    let catalogue = Catalogue::demo();
    let expected = [
        ("haigang", "秦皇岛市海港区"),
        ("shizhong", "乐山市市中区"),
        ("yuyao", "余姚市"),
        ("wenhualu", "文化路街道"),
        ("tongjiang", "通江街道"),
        ("haitang", "海棠街道"),
        ("yangming", "阳明街道"),
        ("hongqili", "红旗里社区"),
        ("bihaiyuntian", "碧海云天社区"),
        ("xinyijie", "新一街社区"),
        ("hejianli", "河涧里社区"),
        ("tuanjieli", "团结里社区"),
        ("niuerqiao", "牛咡桥社区"),
        ("chafang", "茶坊社区"),
        ("fujie", "府街社区"),
        ("baiyang", "柏杨社区"),
        ("xiaoba", "肖坝社区"),
        ("gaodunzi", "高墩子社区"),
        ("xinchengshi", "新城市社区"),
        ("zhujian", "住建"),
        ("huanwei", "环卫"),
        ("chengguan", "城管中队"),
        ("paichusuo", "派出所"),
        ("wuye", "物业公司"),
        ("sifasuo", "司法所"),
        ("zhengfa", "政法"),
        ("shuiwu", "水务"),
        ("gongdian", "供电"),
        ("ranqi", "燃气"),
        ("weijian", "卫健"),
        ("shijian", "市场监管"),
    ];
    for (code, name) in expected {
        assert_eq!(catalogue.name_of(code), Some(name), "{code}");
    }
    assert_eq!(catalogue.name_of("nowhere"), None);
    assert_eq!(catalogue.departments().count(), 12);
    assert_eq!(catalogue.streets().count(), 4);
    assert_eq!(catalogue.communities().count(), 12);

    let wenhualu: StreetId = id("wenhualu");
    let communities: Vec<&str> = catalogue
        .communities_of(&wenhualu)
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(
        communities,
        [
            "hongqili",
            "bihaiyuntian",
            "xinyijie",
            "hejianli",
            "tuanjieli"
        ]
    );
    let haitang = catalogue
        .street(&id("haitang"))
        .expect("haitang is declared");
    assert_eq!(haitang.district.as_str(), "shizhong");
    for district in catalogue.districts() {
        assert_eq!(district.fallback.as_str(), "chengguan", "{}", district.code);
    }
}

#[test]
fn every_demo_community_has_a_location_that_checks() {
    let catalogue = Catalogue::demo();
    let mut checked = 0;
    for community in catalogue.communities() {
        let location = catalogue
            .location_of(&community.code)
            .unwrap_or_else(|| panic!("no location for {}", community.code));
        assert_eq!(location.community, community.code);
        assert_eq!(location.street, community.street);
        assert_eq!(catalogue.check_location(&location), Ok(()));
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn every_category_routes_somewhere_in_every_demo_community() {
    let catalogue = Catalogue::demo();
    for community in catalogue.communities() {
        let location = catalogue.location_of(&community.code).expect("declared");
        for category in Category::ALL {
            match catalogue.route(&location, category, &[]) {
                Route::Summon {
                    departments,
                    lead,
                    rule,
                    version,
                    ..
                } => {
                    assert!(departments.contains(&lead), "{category:?} in {location:?}");
                    assert_eq!(version, "2026-11-01");
                    if category == Category::Other {
                        assert_eq!(rule, format!("fallback:{}", location.district));
                        assert_eq!(departments, [id::<DepartmentId>("chengguan")]);
                    } else {
                        assert!(!rule.starts_with("fallback:"), "{category:?}: {rule}");
                    }
                }
                other => panic!("{category:?} in {location:?} went to {other:?}"),
            }
        }
    }
}

#[test]
fn demo_rules_for_drains_and_property_show_street_and_community_precedence() {
    let catalogue = Catalogue::demo();
    let hongqili = catalogue
        .location_of(&id::<CommunityId>("hongqili"))
        .expect("declared");
    assert_eq!(
        catalogue.route(&hongqili, Category::Drains, &[]),
        Route::Summon {
            departments: vec![id("zhujian"), id("huanwei")],
            lead: id("zhujian"),
            reason: "rule `drains-wenhualu` (catalogue 2026-11-01): 下水道 (drains) in 文化路街道 go to 住建 (lead) and 环卫".into(),
            rule: "drains-wenhualu".into(),
            version: "2026-11-01".into(),
        }
    );
    let Route::Summon { rule, lead, .. } =
        catalogue.route(&hongqili, Category::PropertyManagement, &[])
    else {
        panic!("property management in 红旗里 is routed by a rule");
    };
    assert_eq!(
        (rule.as_str(), lead.as_str()),
        ("property-hongqili", "wuye")
    );

    // Another community of the same street gets the district's property rule.
    let xinyijie = catalogue
        .location_of(&id::<CommunityId>("xinyijie"))
        .expect("declared");
    let Route::Summon { rule, .. } = catalogue.route(&xinyijie, Category::PropertyManagement, &[])
    else {
        panic!("property management in 新一街 is routed by a rule");
    };
    assert_eq!(rule, "property-haigang");

    // The demo's dark street lamp goes to 城管中队 first, 供电 when it declines.
    let niuerqiao = catalogue
        .location_of(&id::<CommunityId>("niuerqiao"))
        .expect("declared");
    let Route::Summon { lead, .. } = catalogue.route(&niuerqiao, Category::StreetLighting, &[])
    else {
        panic!("street lighting is routed by a rule");
    };
    assert_eq!(lead.as_str(), "chengguan");
    let Route::Summon { lead, .. } =
        catalogue.route(&niuerqiao, Category::StreetLighting, &[id("chengguan")])
    else {
        panic!("a declined lamp goes to the alternate");
    };
    assert_eq!(lead.as_str(), "gongdian");
}

#[test]
fn yangming_confirms_by_hand_and_the_other_streets_blow_at_once() {
    let catalogue = Catalogue::demo();
    assert_eq!(
        catalogue.policy_for(&id("yangming")),
        DispatchPolicy::Confirm
    );
    for street in ["wenhualu", "tongjiang", "haitang"] {
        assert_eq!(
            catalogue.policy_for(&id(street)),
            DispatchPolicy::Auto,
            "{street}"
        );
    }
}

#[test]
fn loading_a_missing_file_names_it() {
    let path = demo_path().with_file_name("no-such-catalogue.toml");
    let err = Catalogue::load(&path).expect_err("the file does not exist");
    assert!(matches!(err, CatalogueError::Read { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no-such-catalogue.toml"), "{message}");
    assert!(message.contains("check the path"), "{message}");
}

#[test]
fn loading_a_broken_file_names_it_and_the_line() {
    let dir = std::env::temp_dir().join(format!("whistle-routing-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("broken.toml");
    let text = std::fs::read_to_string(demo_path())
        .expect("demo file")
        .replace("fallback = \"chengguan\"", "fallback = \"chengguan-x\"");
    std::fs::write(&path, text).expect("write temp file");
    let err = Catalogue::load(&path).expect_err("unknown fallback");
    std::fs::remove_dir_all(&dir).ok();
    let message = err.to_string();
    assert!(message.contains("broken.toml"), "{message}");
    assert_eq!(err.problems().len(), 3, "{message}");
    assert!(
        message.contains("district `haigang` has fallback `chengguan-x`"),
        "{message}"
    );
    assert!(err.problems().iter().all(|p| p.line.is_some()), "{message}");
}
