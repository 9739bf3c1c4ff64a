//! How every benchmark reports: medians of its rounds, the ratio, and a last line of JSON
//! with at least `name`, `ours`, `baseline` and `ratio`.

use serde_json::{Map, Value, json};

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.is_empty() {
        0.0
    } else if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// Prints the medians and their ratio, then the JSON line (`extra` adds fields to it).
pub fn print(
    name: &str,
    units: (&str, &str),
    mut ours: Vec<f64>,
    mut baseline: Vec<f64>,
    extra: Value,
) {
    let (ours, baseline) = (median(&mut ours), median(&mut baseline));
    let ratio = ours / baseline;
    println!(
        "median: ours {ours:.1} {}, baseline {baseline:.1} {}, ratio {ratio:.3}",
        units.0, units.1
    );
    let mut line = Map::new();
    line.insert("name".into(), json!(name));
    line.insert("ours".into(), json!((ours * 10.0).round() / 10.0));
    line.insert("baseline".into(), json!((baseline * 10.0).round() / 10.0));
    line.insert("ratio".into(), json!((ratio * 1000.0).round() / 1000.0));
    if let Value::Object(extra) = extra {
        line.extend(extra);
    }
    println!("{}", Value::Object(line));
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
