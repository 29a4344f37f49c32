//! Reference data shipped as seed files (`seeds/*.csv`): postcode → LSOA → ward,
//! LSOA → IMD decile, ethnicity groupings, ASQ-3 cut-offs. Loaded once per run
//! for derivations and written to the lake as `ref_*` tables.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{ConfigIssue, Error, Result};

pub const POSTCODES: &str = "postcode_lookup.csv";
pub const IMD: &str = "lsoa_imd.csv";
pub const ETHNICITY: &str = "ethnicity_groups.csv";
pub const ASQ3: &str = "asq3_cutoffs.csv";
pub const POPULATION: &str = "population_estimates.csv";
pub const ALL: &[&str] = &[POSTCODES, IMD, ETHNICITY, ASQ3, POPULATION];

#[derive(Debug, Clone)]
pub struct Area {
    pub lsoa_code: String,
    pub ward_code: String,
    pub ward_name: String,
    pub imd_decile: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Seeds {
    pub dir: PathBuf,
    /// Normalised postcode (uppercase, no spaces) → area.
    pub postcodes: HashMap<String, Area>,
    /// (scheme, uppercase code) → major group.
    pub ethnicity: HashMap<(String, String), String>,
    pub schemes: HashSet<String>,
    /// (interval months, domain) → cut-off.
    pub asq3: HashMap<(i64, String), f64>,
}

/// Normalise a postcode for lookups and keys: uppercase, no white space.
pub fn normalise_postcode(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(|c| c.to_uppercase())
        .collect()
}

/// IMD quintile (1 = most deprived) from a decile.
pub fn imd_quintile(decile: i64) -> Option<i64> {
    (1..=10).contains(&decile).then(|| (decile + 1) / 2)
}

fn read_rows(path: &Path, header: &[&str], issues: &mut Vec<ConfigIssue>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rdr = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) => {
            issues.push(ConfigIssue {
                file: path.into(),
                message: format!("cannot read seed: {e}"),
            });
            return out;
        }
    };
    match rdr.headers() {
        Ok(h) if h.iter().map(str::trim).eq(header.iter().copied()) => {}
        Ok(h) => {
            issues.push(ConfigIssue {
                file: path.into(),
                message: format!(
                    "header must be `{}`, found `{}`",
                    header.join(","),
                    h.iter().collect::<Vec<_>>().join(",")
                ),
            });
            return out;
        }
        Err(e) => {
            issues.push(ConfigIssue {
                file: path.into(),
                message: e.to_string(),
            });
            return out;
        }
    }
    for (i, rec) in rdr.records().enumerate() {
        match rec {
            Ok(r) => out.push(r.iter().map(|s| s.trim().to_string()).collect()),
            Err(e) => issues.push(ConfigIssue {
                file: path.into(),
                message: format!("row {}: {e}", i + 2),
            }),
        }
    }
    out
}

impl Seeds {
    /// Load every seed file in `dir`, collecting all problems.
    pub fn load(dir: &Path) -> Result<Seeds> {
        let mut issues = Vec::new();
        let mut seeds = Seeds {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        let mut imd: HashMap<String, i64> = HashMap::new();
        for r in read_rows(&dir.join(IMD), &["lsoa_code", "imd_decile"], &mut issues) {
            match r[1].parse::<i64>() {
                Ok(d) if (1..=10).contains(&d) => {
                    imd.insert(r[0].clone(), d);
                }
                _ => issues.push(ConfigIssue {
                    file: dir.join(IMD),
                    message: format!("imd_decile `{}` for {} must be 1–10", r[1], r[0]),
                }),
            }
        }
        for r in read_rows(
            &dir.join(POSTCODES),
            &["postcode", "lsoa_code", "ward_code", "ward_name"],
            &mut issues,
        ) {
            let area = Area {
                imd_decile: imd.get(&r[1]).copied(),
                lsoa_code: r[1].clone(),
                ward_code: r[2].clone(),
                ward_name: r[3].clone(),
            };
            seeds.postcodes.insert(normalise_postcode(&r[0]), area);
        }
        for r in read_rows(
            &dir.join(ETHNICITY),
            &["scheme", "code", "description", "major_group"],
            &mut issues,
        ) {
            seeds.schemes.insert(r[0].clone());
            seeds
                .ethnicity
                .insert((r[0].clone(), r[1].to_uppercase()), r[3].clone());
        }
        for r in read_rows(
            &dir.join(ASQ3),
            &["interval_months", "domain", "cutoff"],
            &mut issues,
        ) {
            match (r[0].parse::<i64>(), r[2].parse::<f64>()) {
                (Ok(m), Ok(c)) => {
                    seeds.asq3.insert((m, r[1].clone()), c);
                }
                _ => issues.push(ConfigIssue {
                    file: dir.join(ASQ3),
                    message: format!("bad row `{}`", r.join(",")),
                }),
            }
        }
        for r in read_rows(
            &dir.join(POPULATION),
            &["area_code", "year", "age", "population"],
            &mut issues,
        ) {
            if r[1].parse::<i64>().is_err() || r[2].parse::<i64>().is_err() || r[3].parse::<i64>().is_err() {
                issues.push(ConfigIssue {
                    file: dir.join(POPULATION),
                    message: format!(
                        "bad row `{}`: year, age and population must be whole numbers",
                        r.join(",")
                    ),
                });
            }
        }
        if issues.is_empty() {
            Ok(seeds)
        } else {
            Err(Error::Config(issues))
        }
    }

    pub fn has_ethnicity_scheme(&self, scheme: &str) -> bool {
        self.schemes.contains(scheme)
    }

    pub fn area(&self, postcode: &str) -> Option<&Area> {
        self.postcodes.get(&normalise_postcode(postcode))
    }

    pub fn ethnic_group(&self, scheme: &str, code: &str) -> Option<&str> {
        self.ethnicity
            .get(&(scheme.to_string(), code.trim().to_uppercase()))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_pair_deciles() {
        assert_eq!(imd_quintile(1), Some(1));
        assert_eq!(imd_quintile(2), Some(1));
        assert_eq!(imd_quintile(3), Some(2));
        assert_eq!(imd_quintile(10), Some(5));
        assert_eq!(imd_quintile(0), None);
        assert_eq!(imd_quintile(11), None);
    }

    #[test]
    fn postcodes_normalise() {
        assert_eq!(normalise_postcode(" nb1 2ab "), "NB12AB");
    }
}
