//! Disclosure control of the scorecard's own rows, consistent across publications.
//!
//! Within each indicator and period the council's breakdown values and wards add
//! up to its `all` row (and FSM × sex cells to the FSM and sex rows); those
//! relations go to [`crate::disclosure`], which hides what could be recovered.
//!
//! Suppression is a function of the published data: cells are taken in a fixed
//! order (not the order the SQL happened to return them in), and the previous
//! publication is an input too. Its true counts and suppression pattern are kept
//! in `state/disclosure/<run_id>.json` (secure storage, like the lake; never in
//! `outputs/`), written before the scorecard is committed, and found again from the
//! `run_id` of the latest `lake/scorecard` version, so a crash between the two
//! cannot make a run compare itself with a publication that never happened.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::row::{Council, Row, is_own};
use crate::disclosure::{self, Cell, Group, Policy, Previous};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// What a gap indicator is built on: the indicator it is a gap of and its two cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapSource {
    pub of: String,
    pub minuend: (String, String),
    pub subtrahend: (String, String),
}

/// Where a cell sits in its table (one indicator, one period).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Place {
    pub area_type: String,
    pub area_code: String,
    pub breakdown: String,
    pub breakdown_value: String,
}

impl Place {
    fn of(r: &Row) -> Place {
        Place {
            area_type: r.area_type.as_str().to_string(),
            area_code: r.area_code.clone(),
            breakdown: r.breakdown.clone(),
            breakdown_value: r.breakdown_value.clone(),
        }
    }
}

/// One disclosure-controlled cell as published: true counts, and whether hidden.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellState {
    pub indicator_id: String,
    pub period_key: String,
    #[serde(flatten)]
    pub place: Place,
    pub numerator: i64,
    pub denominator: i64,
    pub suppressed: bool,
}

/// Every disclosure-controlled cell of one publication (`state/disclosure/<run_id>.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    pub run_id: String,
    pub cells: Vec<CellState>,
}

/// Publications whose state is kept (the newest; older ones are deleted).
const KEEP: usize = 5;

fn state_path(run_id: &str) -> String {
    format!("state/disclosure/{run_id}.json")
}

/// The state of the latest published scorecard, if it was written by a version
/// that keeps one.
pub async fn load_previous(storage: &Storage) -> Result<Option<Publication>> {
    let batches = crate::lake::query_table(
        storage,
        super::publish::HISTORY_TABLE,
        "SELECT run_id FROM t LIMIT 1",
    )
    .await?;
    let run_id = batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
        let c = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8)
            .ok()?;
        let s = c
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()?;
        Some(s.value(0).to_string())
    });
    let Some(run_id) = run_id else {
        return Ok(None);
    };
    let path = state_path(&run_id);
    let Some(bytes) = storage.get(&path).await? else {
        tracing::info!(
            run_id,
            "the latest scorecard has no disclosure state (published before it was kept): \
             suppression is checked against this publication only"
        );
        return Ok(None);
    };
    let p: Publication = serde_json::from_slice(&bytes)
        .map_err(|e| Error::internal(format!("{}: {e}", storage.display(&path))))?;
    Ok(Some(p))
}

/// Keep this publication's state (before the scorecard is committed), and
/// delete all but the newest few.
pub async fn save(storage: &Storage, state: &Publication) -> Result<()> {
    let json = serde_json::to_vec(state).map_err(Error::internal)?;
    storage.put(&state_path(&state.run_id), json.into()).await?;
    let mut old: Vec<String> = storage
        .list("state/disclosure")
        .await?
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
    old.sort();
    let n = old.len().saturating_sub(KEEP);
    for loc in &old[..n] {
        if let Some(name) = loc.rsplit('/').next() {
            storage.delete(&format!("state/disclosure/{name}")).await?;
        }
    }
    Ok(())
}

/// The relations between the cells of one table: each breakdown and the wards
/// add up to the area's `all` row; FSM × sex cells add up to the FSM and sex rows.
/// `None` when the table has no `all` row.
fn relations(places: &[&Place]) -> Option<Vec<Group>> {
    let pos = |bd: &str, v: &str| {
        places
            .iter()
            .position(|p| p.area_type == "local_authority" && p.breakdown == bd && p.breakdown_value == v)
    };
    let total = pos(super::row::ALL, "All")?;
    let mut by_breakdown: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, p) in places.iter().enumerate() {
        if p.area_type == "ward" {
            by_breakdown.entry("ward").or_default().push(k);
        } else if p.breakdown != super::row::ALL {
            by_breakdown.entry(&p.breakdown).or_default().push(k);
        }
    }
    let mut groups: Vec<Group> = by_breakdown
        .into_values()
        .map(|children| Group {
            parent: total,
            children,
        })
        .collect();
    for (parent, kids) in super::FSM_SEX_MARGINS {
        if let Some(p) = pos(parent.0, parent.1) {
            let children: Vec<usize> = kids.iter().filter_map(|k| pos("fsm_sex", k)).collect();
            if !children.is_empty() {
                groups.push(Group { parent: p, children });
            }
        }
    }
    Some(groups)
}

/// Suppress small cells of the council's own rows (child-level data), per
/// indicator and period, so nothing hidden can be recovered from this
/// publication or from it together with `previous`; gaps built on a hidden cell
/// are hidden too. Returns this publication's state (its `run_id` for the
/// caller to set).
pub fn apply(
    rows: &mut [Row],
    policy: &Policy,
    gap_sources: &HashMap<String, GapSource>,
    council: &Council,
    previous: Option<&Publication>,
) -> Publication {
    let mut tables: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        // Gaps are not counts: they are hidden with the cells they are built on.
        if is_own(r, council) && !gap_sources.contains_key(&r.indicator_id) {
            tables
                .entry((r.indicator_id.clone(), r.period_key.clone()))
                .or_default()
                .push(i);
        }
    }
    let mut before: HashMap<(&str, &str), Vec<&CellState>> = HashMap::new();
    for c in previous.map(|p| p.cells.as_slice()).unwrap_or_default() {
        before
            .entry((c.indicator_id.as_str(), c.period_key.as_str()))
            .or_default()
            .push(c);
    }
    let mut state = Publication::default();
    for ((indicator, period), mut idx) in tables {
        // A fixed order: the result must not depend on the order rows arrived in.
        idx.sort_by_cached_key(|i| Place::of(&rows[*i]));
        let places: Vec<Place> = idx.iter().map(|i| Place::of(&rows[*i])).collect();
        let place_refs: Vec<&Place> = places.iter().collect();
        let Some(groups) = relations(&place_refs) else {
            continue;
        };
        let mut cells: Vec<Cell> = idx
            .iter()
            .map(|i| {
                let r = &rows[*i];
                let x = r.numerator.unwrap_or(0);
                Cell::new(x, r.denominator.unwrap_or(x))
            })
            .collect();
        let prev = before
            .get(&(indicator.as_str(), period.as_str()))
            .and_then(|old| {
                let mut old = old.clone();
                old.sort_by(|a, b| a.place.cmp(&b.place));
                let old_places: Vec<&Place> = old.iter().map(|c| &c.place).collect();
                let groups = relations(&old_places)?;
                let at: HashMap<&Place, usize> =
                    old_places.iter().enumerate().map(|(j, p)| (*p, j)).collect();
                Some(Previous {
                    cells: old
                        .iter()
                        .map(|c| Cell {
                            numerator: c.numerator,
                            denominator: c.denominator,
                            suppressed: c.suppressed,
                        })
                        .collect(),
                    groups,
                    same_key: places.iter().map(|p| at.get(p).copied()).collect(),
                })
            });
        let left = disclosure::suppress_across(&mut cells, &groups, policy, prev.as_ref());
        if !left.is_empty() {
            tracing::error!(
                indicator,
                period,
                cells = left.len(),
                "disclosure: with the previous publication, {} suppressed cell(s) stay recoverable \
                 however much of this one is hidden; every cell that can be hidden is suppressed",
                left.len()
            );
        }
        for ((k, c), place) in cells.iter().enumerate().zip(places) {
            if c.suppressed {
                rows[idx[k]].withhold(&policy.symbol);
            }
            state.cells.push(CellState {
                indicator_id: indicator.clone(),
                period_key: period.clone(),
                place,
                numerator: c.numerator,
                denominator: c.denominator,
                suppressed: c.suppressed,
            });
        }
    }
    suppress_gaps(rows, policy, gap_sources, council);
    state
}

/// One cell of the scorecard: an indicator's value in a period, area and breakdown.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CellId {
    indicator: String,
    period: String,
    area: String,
    breakdown: String,
    value: String,
}

/// Gaps (the indicators `gap_sources` names) built on a suppressed row are
/// suppressed too.
fn suppress_gaps(
    rows: &mut [Row],
    policy: &Policy,
    gap_sources: &HashMap<String, GapSource>,
    council: &Council,
) {
    let hidden: HashSet<CellId> = rows
        .iter()
        .filter(|r| r.status_symbol.as_deref() == Some(policy.symbol.as_str()))
        .map(|r| CellId {
            indicator: r.indicator_id.clone(),
            period: r.period_key.clone(),
            area: r.area_code.clone(),
            breakdown: r.breakdown.clone(),
            value: r.breakdown_value.clone(),
        })
        .collect();
    for r in rows.iter_mut().filter(|r| is_own(r, council)) {
        if let Some(g) = gap_sources.get(&r.indicator_id) {
            let hit = |(b, v): &(String, String)| {
                hidden.contains(&CellId {
                    indicator: g.of.clone(),
                    period: r.period_key.clone(),
                    area: r.area_code.clone(),
                    breakdown: b.clone(),
                    value: v.clone(),
                })
            };
            if hit(&g.minuend) || hit(&g.subtrahend) {
                r.withhold(&policy.symbol);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn council() -> Council {
        Council {
            code: "E1".into(),
            name: "Council".into(),
            region_code: "E12".into(),
            comparators: vec![],
        }
    }

    fn row(area_type: &str, area_code: &str, breakdown: &str, value: &str, x: i64, n: i64) -> Row {
        let d = chrono::NaiveDate::from_ymd_opt(2024, 9, 1).unwrap();
        Row {
            indicator_id: "sr_gld".into(),
            indicator_name: "GLD".into(),
            domain: "school_readiness".into(),
            unit: crate::indicators::row::Unit::Percent,
            polarity: crate::stats::Polarity::HigherIsBetter,
            period_key: "2024".into(),
            period: "2024/25".into(),
            period_start: d,
            period_end: d,
            area_type: crate::indicators::row::AreaType::parse(area_type).expect("an area type"),
            area_code: area_code.into(),
            area_name: String::new(),
            breakdown: breakdown.into(),
            breakdown_value: value.into(),
            numerator: Some(x),
            denominator: Some(n),
            value: Some(100.0 * x as f64 / n as f64),
            lower_95: None,
            upper_95: None,
            lower_998: None,
            upper_998: None,
            benchmark_area: None,
            benchmark_value: None,
            comparison: crate::stats::Comparison::NotCompared,
            trend: crate::stats::Trend::CannotBeCalculated,
            status_symbol: None,
            numerator_sq: None,
        }
    }

    /// Four wards of equal size, one of them small: which complementary ward is
    /// hidden is a tie that row order must not decide.
    fn rows() -> Vec<Row> {
        vec![
            row("local_authority", "E1", "all", "All", 93, 130),
            row("ward", "W1", "all", "All", 30, 40),
            row("ward", "W2", "all", "All", 30, 40),
            row("ward", "W3", "all", "All", 30, 40),
            row("ward", "W4", "all", "All", 3, 10),
        ]
    }

    fn hidden(rows: &[Row]) -> Vec<String> {
        let mut h: Vec<String> = rows
            .iter()
            .filter(|r| r.status_symbol.is_some())
            .map(|r| r.area_code.clone())
            .collect();
        h.sort();
        h
    }

    #[test]
    fn suppression_does_not_depend_on_row_order() {
        let policy = Policy::default();
        let mut sorted = rows();
        let state = apply(&mut sorted, &policy, &HashMap::new(), &council(), None);
        assert_eq!(hidden(&sorted), vec!["W1", "W4"]);
        for rotation in 1..5 {
            let mut shuffled = rows();
            shuffled.rotate_left(rotation);
            shuffled.swap(0, 3);
            let again = apply(&mut shuffled, &policy, &HashMap::new(), &council(), None);
            assert_eq!(hidden(&shuffled), hidden(&sorted), "rotation {rotation}");
            assert_eq!(again, state);
        }
    }

    #[test]
    fn the_previous_publication_keeps_its_complementary_cell() {
        let policy = Policy::default();
        let mut first = rows();
        let state = apply(&mut first, &policy, &HashMap::new(), &council(), None);
        // A correction: ward 4 grows past the threshold, ward 1 is unchanged.
        let mut second = rows();
        second[0] = row("local_authority", "E1", "all", "All", 100, 140);
        second[4] = row("ward", "W4", "all", "All", 10, 20);
        let mut alone = second.clone();
        apply(&mut alone, &policy, &HashMap::new(), &council(), None);
        assert!(hidden(&alone).is_empty());
        apply(&mut second, &policy, &HashMap::new(), &council(), Some(&state));
        // Publishing W1 (30 of 40, as before) would give away the first W4 (93 − 90 of
        // 130 − 120): it stays hidden, and W4, hidden before, is preferred as its complement.
        assert_eq!(hidden(&second), vec!["W1", "W4"]);
    }
}
