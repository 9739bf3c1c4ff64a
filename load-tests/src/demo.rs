//! The part of the demo's jurisdiction the SLA benchmarks spread their tickets over.

use anyhow::Context as _;
use whistle_events::Text;

/// (district, street, community): five communities of three streets in two districts.
pub const PLACES: [(&str, &str, &str); 5] = [
    ("haigang", "wenhualu", "hongqili"),
    ("haigang", "wenhualu", "biyaiyuntian"),
    ("shizhong", "tongjiang", "niuerqiao"),
    ("shizhong", "tongjiang", "chafang"),
    ("shizhong", "haitang", "fujie"),
];

/// Departments summoned.
pub const DEPARTMENTS: [&str; 5] = ["zhujian", "huanwei", "chengguan", "shuiwu", "gongdian"];

/// A note or reason the benchmark writes.
pub fn text(s: &str) -> anyhow::Result<Text> {
    Text::note(s).context("benchmark text")
}
