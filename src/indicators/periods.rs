//! Period keys as the lake stores them (`2023-24`, `2024-25-Q1`, `2024-autumn`)
//! → published labels, inclusive bounds, and an ordinal for consecutive-ness.

use chrono::NaiveDate;

use super::catalogue::PeriodType;

#[derive(Debug, Clone, PartialEq)]
pub struct PeriodInfo {
    pub label: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Consecutive periods have consecutive ordinals.
    pub ordinal: i64,
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Parse a period key of the given type; `None` when it is not one.
pub fn info(kind: PeriodType, key: &str) -> Option<PeriodInfo> {
    match kind {
        PeriodType::AcademicYear => {
            let (a, b) = key.split_once('-')?;
            let y: i32 = a.parse().ok()?;
            let next: i32 = b.parse().ok()?;
            if b.len() != 2 || (y + 1) % 100 != next {
                return None;
            }
            Some(PeriodInfo {
                label: format!("{y}/{b}"),
                start: date(y, 9, 1)?,
                end: date(y + 1, 8, 31)?,
                ordinal: y as i64,
            })
        }
        PeriodType::FinancialQuarter => {
            let (year, q) = key.rsplit_once("-Q")?;
            let (a, b) = year.split_once('-')?;
            let y: i32 = a.parse().ok()?;
            let q: u32 = q.parse().ok()?;
            if !(1..=4).contains(&q) || b.len() != 2 {
                return None;
            }
            let (sy, sm) = if q == 4 { (y + 1, 1) } else { (y, 3 * q + 1) };
            let start = date(sy, sm, 1)?;
            let end = if sm + 3 > 12 {
                date(sy + 1, 1, 1)?
            } else {
                date(sy, sm + 3, 1)?
            } - chrono::Duration::days(1);
            Some(PeriodInfo {
                label: format!("{y}/{b} Q{q}"),
                start,
                end,
                ordinal: y as i64 * 4 + q as i64,
            })
        }
        PeriodType::Term => {
            let (a, term) = key.split_once('-')?;
            let y: i32 = a.parse().ok()?;
            let (i, label, start, end) = match term {
                "autumn" => (0, format!("Autumn {y}"), date(y, 9, 1)?, date(y, 12, 31)?),
                "spring" => (
                    1,
                    format!("Spring {}", y + 1),
                    date(y + 1, 1, 1)?,
                    date(y + 1, 3, 31)?,
                ),
                "summer" => (
                    2,
                    format!("Summer {}", y + 1),
                    date(y + 1, 4, 1)?,
                    date(y + 1, 8, 31)?,
                ),
                _ => return None,
            };
            Some(PeriodInfo {
                label,
                start,
                end,
                ordinal: y as i64 * 3 + i,
            })
        }
    }
}

/// A published label (`2023/24`, `2024/25 Q1`, `Spring 2025`) → its period: the
/// inverse of [`info`]'s `label`. `None` when `label` is not one of `kind`'s labels.
pub fn from_label(kind: PeriodType, label: &str) -> Option<PeriodInfo> {
    let key = match kind {
        PeriodType::AcademicYear => label.replacen('/', "-", 1),
        PeriodType::FinancialQuarter => {
            let (year, q) = label.split_once(" Q")?;
            format!("{}-Q{q}", year.replacen('/', "-", 1))
        }
        PeriodType::Term => {
            let (term, year) = label.split_once(' ')?;
            let y: i32 = year.parse().ok()?;
            match term {
                "Autumn" => format!("{y}-autumn"),
                "Spring" => format!("{}-spring", y - 1),
                "Summer" => format!("{}-summer", y - 1),
                _ => return None,
            }
        }
    };
    info(kind, &key).filter(|p| p.label == label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let a = info(PeriodType::AcademicYear, "2023-24").unwrap();
        assert_eq!(a.label, "2023/24");
        assert_eq!(
            (a.start, a.end),
            (date(2023, 9, 1).unwrap(), date(2024, 8, 31).unwrap())
        );
        let q = info(PeriodType::FinancialQuarter, "2024-25-Q1").unwrap();
        assert_eq!(q.label, "2024/25 Q1");
        assert_eq!(
            (q.start, q.end),
            (date(2024, 4, 1).unwrap(), date(2024, 6, 30).unwrap())
        );
        let q4 = info(PeriodType::FinancialQuarter, "2024-25-Q4").unwrap();
        assert_eq!(
            (q4.start, q4.end),
            (date(2025, 1, 1).unwrap(), date(2025, 3, 31).unwrap())
        );
        assert_eq!(q4.ordinal, q.ordinal + 3);
        let t = info(PeriodType::Term, "2024-spring").unwrap();
        assert_eq!(t.label, "Spring 2025");
        assert_eq!(
            info(PeriodType::Term, "2024-autumn").unwrap().ordinal + 1,
            t.ordinal
        );
        assert!(info(PeriodType::AcademicYear, "2023-25").is_none());
        assert!(info(PeriodType::Term, "2024-winter").is_none());
    }

    #[test]
    fn labels_read_back_as_their_periods() {
        for (kind, key) in [
            (PeriodType::AcademicYear, "2023-24"),
            (PeriodType::FinancialQuarter, "2024-25-Q4"),
            (PeriodType::Term, "2024-autumn"),
            (PeriodType::Term, "2024-spring"),
            (PeriodType::Term, "2024-summer"),
        ] {
            let p = info(kind, key).unwrap();
            assert_eq!(from_label(kind, &p.label), Some(p));
        }
        for (kind, label) in [
            (PeriodType::AcademicYear, "2023-24"),
            (PeriodType::AcademicYear, "2023/25"),
            (PeriodType::AcademicYear, "2023/24 "),
            (PeriodType::FinancialQuarter, "2024/25 Q5"),
            (PeriodType::FinancialQuarter, "2024/25"),
            (PeriodType::Term, "Winter 2025"),
        ] {
            assert_eq!(from_label(kind, label), None, "{label}");
        }
    }
}
