//! The health-visiting contacts extract: one CSV per financial-year quarter.

use super::*;

/// The health-visiting files being written, by (financial year, quarter).
pub(super) struct Files {
    by_quarter: BTreeMap<(i32, u32), CsvOut>,
    /// The days the extracts cover.
    first_date: NaiveDate,
    last_date: NaiveDate,
}

const HEADER: [&str; 15] = [
    "NHS Number",
    "Date of Birth",
    "Gender",
    "Ethnic Category",
    "Postcode",
    "Contact Type",
    "Contact Date",
    "Contact Mode",
    "Infant Feeding Status",
    "ASQ Questionnaire",
    "ASQ Communication",
    "ASQ Gross Motor",
    "ASQ Fine Motor",
    "ASQ Problem Solving",
    "ASQ Personal Social",
];

impl Files {
    pub(super) fn create(out: &Path, years: &[i32], mtimes: &mut Vec<(PathBuf, NaiveDate)>) -> Result<Files> {
        let mut by_quarter: BTreeMap<(i32, u32), CsvOut> = BTreeMap::new();
        for ay in years {
            for q in 1..=4u32 {
                let path = out.join("health_visiting").join(format!(
                    "hv_contacts_{}-{:02}_Q{q}.csv",
                    ay,
                    (ay + 1) % 100
                ));
                by_quarter.insert((*ay, q), CsvOut::create(&path, &HEADER, q == 2, false)?);
                let end_month = [6, 9, 12, 3][q as usize - 1];
                let y = if q == 4 { ay + 1 } else { *ay };
                mtimes.push((
                    path,
                    NaiveDate::from_ymd_opt(y, end_month, 28).expect("valid") + Duration::days(10),
                ));
            }
        }
        Ok(Files {
            by_quarter,
            first_date: NaiveDate::from_ymd_opt(years[0], 4, 1).expect("valid"),
            last_date: NaiveDate::from_ymd_opt(LAST_YEAR + 1, 3, 31).expect("valid"),
        })
    }

    /// The child's contacts (antenatal, new birth visit, 6–8 week, 12 month and
    /// 2 year reviews, each done or not), in the quarters delivered; a few rows
    /// with a mistake a partner makes.
    pub(super) fn add(&mut self, c: &Child, pc: &str, asq: &Asq, rng: &mut ChaCha8Rng) -> Result<()> {
        let (_, eth_nhs, _, _) = ETHNICITIES[c.eth];
        let mut contacts: Vec<(&str, NaiveDate)> = Vec::new();
        if rng.random_bool(0.85) {
            contacts.push(("antenatal", c.dob - Duration::days(rng.random_range(30..90))));
        }
        let nbv_days = if rng.random_bool(0.88) {
            rng.random_range(7..=14)
        } else {
            rng.random_range(15..30)
        };
        contacts.push(("nbv", c.dob + Duration::days(nbv_days)));
        if rng.random_bool(0.92) {
            contacts.push(("6_8wk", c.dob + Duration::days(rng.random_range(40..62))));
        }
        if rng.random_bool(0.85) {
            contacts.push(("12m", c.dob + Duration::days(rng.random_range(330..440))));
        }
        if rng.random_bool(0.80) {
            contacts.push(("2yr", c.dob + Duration::days(rng.random_range(730..912))));
        }
        for (kind, date) in contacts {
            if date < self.first_date || date > self.last_date {
                continue;
            }
            let (fy, q) = fy_quarter(date);
            let Some(w) = self.by_quarter.get_mut(&(fy, q)) else {
                continue;
            };
            let mut row = hv_row(c, pc, eth_nhs, kind, date, rng, asq.interval, &asq.scores, q);
            if rng.random_bool(0.003) {
                // invalid: a mistyped NHS number, a contact dated before birth, a score out of range
                match rng.random_range(0..3) {
                    0 => {
                        let last = row[0].pop().and_then(|ch| ch.to_digit(10)).unwrap_or(0);
                        row[0].push(char::from(b'0' + ((last + 1) % 10) as u8));
                    }
                    1 if kind != "antenatal" => row[6] = uk(c.dob - Duration::days(3)),
                    _ => row[10] = "75".into(),
                }
            }
            w.row(&row)?;
        }
        Ok(())
    }

    pub(super) fn finish(self, generated: &mut Generated) -> Result<()> {
        for (_, w) in self.by_quarter {
            w.finish(false)?;
            generated.files += 1;
        }
        Ok(())
    }
}

/// Financial-year quarter (year starting April, quarter 1–4) of a date.
fn fy_quarter(d: NaiveDate) -> (i32, u32) {
    let fy = if d.month() >= 4 { d.year() } else { d.year() - 1 };
    let q = ((d.month() + 8) % 12) / 3 + 1;
    (fy, q)
}

#[allow(clippy::too_many_arguments)]
fn hv_row(
    c: &Child,
    pc: &str,
    eth: &str,
    kind: &str,
    date: NaiveDate,
    rng: &mut ChaCha8Rng,
    asq_interval: i64,
    scores: &[i64],
    q: u32,
) -> Vec<String> {
    let spelled = |a: &str, b: &str| {
        if q.is_multiple_of(2) {
            a.to_string()
        } else {
            b.to_string()
        }
    };
    let contact = match kind {
        "antenatal" => spelled("Antenatal", "AN"),
        "nbv" => spelled("New Birth Visit", "NBV"),
        "6_8wk" => spelled("6-8 Week Review", "6-8 WEEK"),
        "12m" => spelled("12 Month Review", "12M"),
        _ => spelled("2-2.5 Year Review", "2YR"),
    };
    let mode = [
        "Face to face",
        "Face to face",
        "Face to face",
        "Video",
        "Telephone",
    ][rng.random_range(0..5)];
    let feeding = if kind == "6_8wk" {
        [
            "Totally breastfed",
            "Partially breastfed",
            "Not breastfed",
            "Not breastfed",
        ][rng.random_range(0..4)]
        .to_string()
    } else {
        String::new()
    };
    let mut row = vec![
        c.nhs.clone(),
        uk(c.dob),
        if c.male { "Male".into() } else { "Female".into() },
        eth.to_string(),
        pc.to_string(),
        contact,
        uk(date),
        mode.to_string(),
        feeding,
    ];
    if kind == "2yr" && rng.random_bool(0.93) {
        row.push(asq_interval.to_string());
        row.extend(scores.iter().map(|s| s.to_string()));
    } else {
        row.extend(std::iter::repeat_n(String::new(), 6));
    }
    row
}
