//! The national statistics files (DfE EYFSP headline measures, early years
//! provision take-up): England, the region, the council, its comparator and
//! other synthetic councils, from the counts of the children generated.

use super::*;

/// The areas of the synthetic national statistics files: geographic level, the
/// files' code and name columns, size relative to the council, and how much
/// better than the council the area does (England and the region a little).
const BENCH_AREAS: [(&str, [&str; 7], f64, f64); 4] = [
    (
        "National",
        ["E92000001", "England", "", "", "", "", ""],
        190.0,
        0.035,
    ),
    (
        "Regional",
        ["E92000001", "England", REGION_CODE, REGION_NAME, "", "", ""],
        25.0,
        0.015,
    ),
    (
        "Local authority",
        [
            "E92000001",
            "England",
            REGION_CODE,
            REGION_NAME,
            "999",
            LA_CODE,
            LA_NAME,
        ],
        1.0,
        0.0,
    ),
    (
        "Local authority",
        [
            "E92000001",
            "England",
            REGION_CODE,
            REGION_NAME,
            "998",
            COMPARATOR_CODE,
            COMPARATOR_NAME,
        ],
        0.9,
        0.02,
    ),
];
/// Regions of England (ONS codes), for the synthetic councils of the national files.
const REGIONS: [(&str, &str); 9] = [
    ("E12000001", "North East"),
    ("E12000002", "North West"),
    ("E12000003", "Yorkshire and The Humber"),
    ("E12000004", "East Midlands"),
    ("E12000005", "West Midlands"),
    ("E12000006", "East of England"),
    ("E12000007", "London"),
    ("E12000008", "South East"),
    ("E12000009", "South West"),
];

/// How many other synthetic councils the national files hold, so that the
/// council can be placed among all councils (the report's spine charts).
const OTHER_COUNCILS: usize = 60;

/// Every area of the synthetic national files: the fixed ones, then the other
/// councils, each of its own size and a little better or worse than this one
/// (spread evenly from 10 points worse to 8 points better, in a shuffled order).
fn bench_areas() -> Vec<(&'static str, [String; 7], f64, f64)> {
    let mut out: Vec<(&'static str, [String; 7], f64, f64)> = BENCH_AREAS
        .iter()
        .map(|(level, cols, scale, shift)| (*level, cols.map(str::to_string), *scale, *shift))
        .collect();
    for i in 0..OTHER_COUNCILS {
        let (rc, rn) = REGIONS[i % REGIONS.len()];
        // 37 is coprime with 60: a fixed shuffle of the shifts over the councils.
        let k = (i * 37) % OTHER_COUNCILS;
        let shift = -0.10 + 0.18 * k as f64 / (OTHER_COUNCILS - 1) as f64;
        let scale = 0.4 + 2.2 * ((i * 23) % OTHER_COUNCILS) as f64 / OTHER_COUNCILS as f64;
        out.push((
            "Local authority",
            [
                "E92000001".into(),
                "England".into(),
                rc.into(),
                rn.into(),
                format!("{}", 800 + i),
                format!("E06000{}", 900 + i),
                format!("Synthetic council {:02}", i + 1),
            ],
            scale,
            shift,
        ));
    }
    out
}

/// A synthetic statistical neighbour, configured as a comparator in the default project.
pub const COMPARATOR_CODE: &str = "E08000998";
pub const COMPARATOR_NAME: &str = "Southmoor";

/// Counts behind the synthetic national statistics files.
#[derive(Default)]
pub(super) struct BenchCounts {
    /// (year, fsm, male) → (children, gld, elgs expected total)
    eyfsp: BTreeMap<(i32, bool, bool), (u64, u64, u64)>,
}

impl BenchCounts {
    pub(super) fn add(&mut self, c: &Child, elgs: &[String], ay: i32) {
        let gld = elgs[..12].iter().all(|e| e == "2");
        let e = self.eyfsp.entry((ay, c.fsm, c.male)).or_default();
        e.0 += 1;
        e.1 += gld as u64;
        e.2 += elgs.iter().filter(|e| *e == "2").count() as u64;
    }

    pub(super) fn write(
        &self,
        out: &Path,
        years: &[i32],
        children: u32,
        mtimes: &mut Vec<(PathBuf, NaiveDate)>,
    ) -> Result<usize> {
        self.write_eyfsp(out, years, mtimes)?;
        write_provision(out, years, children, mtimes)?;
        Ok(2)
    }

    fn write_eyfsp(&self, out: &Path, years: &[i32], mtimes: &mut Vec<(PathBuf, NaiveDate)>) -> Result<()> {
        // EYFSP headline measures by characteristics (DfE format): England, region and this council.
        let path = out
            .join("benchmark_eyfsp")
            .join("eyfsp_headline_measures_by_characteristics.csv");
        let header = [
            "time_period",
            "time_identifier",
            "geographic_level",
            "country_code",
            "country_name",
            "region_code",
            "region_name",
            "old_la_code",
            "new_la_code",
            "la_name",
            "lad_code",
            "lad_name",
            "characteristic",
            "characteristic_type",
            "gender",
            "children_number",
            "average_elgs",
            "elg_number",
            "elg_percentage",
            "comm_lang_lit_number",
            "comm_lang_lit_percentage",
            "gld_number",
            "gld_percentage",
        ];
        let mut w = CsvOut::create(&path, &header, true, false)?;
        for &ay in years {
            let tp = format!("{}{:02}", ay, (ay + 1) % 100);
            for (level, code_cols, scale, shift) in bench_areas() {
                for (ch, ctype, gender, sel) in [
                    ("Total", "Total", "Total", (None, None)),
                    ("Total", "Total", "Boys", (None, Some(true))),
                    ("Total", "Total", "Girls", (None, Some(false))),
                    (
                        "Free school meal eligibility",
                        "Known to be eligible for free school meals",
                        "Total",
                        (Some(true), None),
                    ),
                    (
                        "Free school meal eligibility",
                        "Not known to be eligible for free school meals",
                        "Total",
                        (Some(false), None),
                    ),
                    (
                        "Free school meal eligibility",
                        "Known to be eligible for free school meals",
                        "Boys",
                        (Some(true), Some(true)),
                    ),
                ] {
                    let (n, g, e) = self.counts(ay, sel);
                    let n_s = (n as f64 * scale).round() as u64;
                    // Other areas do a little better than this council.
                    let g_s = ((g as f64 / n.max(1) as f64 + shift).min(1.0) * n_s as f64).round() as u64;
                    let (gn, gp) = if level == "Local authority" && n < 10 {
                        ("c".to_string(), "c".to_string())
                    } else {
                        (
                            g_s.to_string(),
                            format!("{:.1}", 100.0 * g_s as f64 / n_s.max(1) as f64),
                        )
                    };
                    let avg = if n > 0 {
                        // Each area's average moves with how much better it does.
                        format!("{:.1}", (e as f64 / n as f64 * (1.0 + shift)).min(17.0))
                    } else {
                        "x".into()
                    };
                    let mut row: Vec<String> = vec![tp.clone(), "Academic year".into(), level.into()];
                    row.extend(code_cols.iter().take(2).map(|s| s.to_string()));
                    row.extend(code_cols[2..].iter().map(|s| s.to_string()));
                    row.extend(["".into(), "".into()]);
                    row.extend([ch.into(), ctype.into(), gender.into(), n_s.to_string(), avg]);
                    row.extend(["z".into(), "z".into(), "z".into(), "z".into(), gn, gp]);
                    w.row(&row)?;
                }
            }
        }
        w.finish(false)?;
        mtimes.push((
            path,
            NaiveDate::from_ymd_opt(LAST_YEAR + 1, 11, 20).expect("valid"),
        ));
        Ok(())
    }

    /// Children, GLD and ELGs at the expected level in `ay`, of the children
    /// matching `(fsm, male)` (`None`: either).
    fn counts(&self, ay: i32, sel: (Option<bool>, Option<bool>)) -> (u64, u64, u64) {
        let (mut n, mut g, mut e) = (0u64, 0u64, 0u64);
        for ((y, fsm, male), (cn, cg, ce)) in &self.eyfsp {
            if *y == ay && sel.0.is_none_or(|f| f == *fsm) && sel.1.is_none_or(|m| m == *male) {
                n += cn;
                g += cg;
                e += ce;
            }
        }
        (n, g, e)
    }
}

/// Education provision: children under 5 (DfE format, BOM, quoted names).
fn write_provision(
    out: &Path,
    years: &[i32],
    children: u32,
    mtimes: &mut Vec<(PathBuf, NaiveDate)>,
) -> Result<()> {
    let path = out
        .join("benchmark_early_years_provision")
        .join("early_years_provision_children_under_5.csv");
    let header = [
        "time_period",
        "time_identifier",
        "geographic_level",
        "country_code",
        "country_name",
        "region_code",
        "region_name",
        "old_la_code",
        "new_la_code",
        "la_name",
        "entitlement_type",
        "age",
        "number_children",
        "number_eligible_children",
        "percentage_eligible_children",
    ];
    let mut w = CsvOut::create(&path, &header, true, false)?;
    for &ay in years {
        let tp = (ay + 1).to_string();
        for (level, cols, scale, shift) in bench_areas() {
            for (age, rate, elig) in [
                ("2-year-olds", 0.74, 0.25),
                ("3-year-olds", 0.92, 1.0),
                ("4-year-olds", 0.95, 1.0),
                ("3 and 4-year-olds", 0.935, 2.0),
                ("Total", 0.9, 2.25),
            ] {
                let eligible = (children as f64 * elig * scale).round() as u64;
                let rate: f64 = (rate + shift).clamp(0.3, 0.99);
                let taken = (eligible as f64 * rate).round() as u64;
                let (n, e, p) = if level == "Local authority" && ay == years[0] && age == "2-year-olds" {
                    ("u".to_string(), "u".to_string(), "u".to_string())
                } else {
                    (
                        taken.to_string(),
                        eligible.to_string(),
                        format!("{:.1}", 100.0 * taken as f64 / eligible.max(1) as f64),
                    )
                };
                let mut row: Vec<String> = vec![tp.clone(), "Reporting year".into(), level.into()];
                row.extend(cols.iter().map(|s| s.to_string()));
                row.extend(["15-hour entitlement".into(), age.into(), n, e, p]);
                w.row(&row)?;
            }
        }
    }
    w.finish(false)?;
    mtimes.push((
        path,
        NaiveDate::from_ymd_opt(LAST_YEAR + 1, 6, 30).expect("valid"),
    ));
    Ok(())
}
