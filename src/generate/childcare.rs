//! The childcare extracts: the DWP list of eligible 2-year-olds (CSV) and the
//! providers' headcounts (one xlsx workbook per provider group), each per term.

use super::*;

/// The childcare files being written.
pub(super) struct Files {
    /// (academic year, term) → the DWP list.
    dwp: BTreeMap<(i32, usize), CsvOut>,
    /// (academic year, term, provider group) → the headcount workbook.
    headcount: BTreeMap<(i32, usize, usize), HeadcountOut>,
}

const DWP_HEADER: [&str; 5] = [
    "Child Surname",
    "Child Forename",
    "Child DOB",
    "Child Postcode",
    "Parent Ref",
];

impl Files {
    pub(super) fn create(out: &Path, years: &[i32], mtimes: &mut Vec<(PathBuf, NaiveDate)>) -> Result<Files> {
        let mut dwp = BTreeMap::new();
        let mut headcount = BTreeMap::new();
        for ay in years {
            for (t, term) in TERMS.iter().enumerate() {
                let name = format!("{}-{}", ay, term.0);
                let path = out.join("dwp_2yo").join(format!("dwp_2yo_{name}.csv"));
                dwp.insert((*ay, t), CsvOut::create(&path, &DWP_HEADER, false, true)?);
                mtimes.push((path, term_start(*ay, t) - Duration::days(20)));
                for (g, group) in PROVIDER_GROUPS.iter().enumerate() {
                    let hpath = out
                        .join("ey_headcount")
                        .join(format!("headcount_{name}_{}.xlsx", group.0));
                    headcount.insert((*ay, t, g), HeadcountOut::new(hpath.clone())?);
                    mtimes.push((hpath, term_start(*ay, t) + Duration::days(40 + g as i64)));
                }
            }
        }
        Ok(Files { dwp, headcount })
    }

    /// Per term while the child is 2 (the DWP list if eligible, the headcount if
    /// the place is taken up), then 3–4 (universal or extended hours).
    pub(super) fn add(&mut self, c: &Child, pc: &str, rng: &mut ChaCha8Rng) -> Result<()> {
        for (&(ay, t), w) in self.dwp.iter_mut() {
            let start = term_start(ay, t);
            let age_days = (start - c.dob).num_days();
            let two = (730..1095).contains(&age_days);
            let three_four = (1095..1826).contains(&age_days);
            if two && c.eligible_2yo {
                let pref = format!("P{:09}", rng.random_range(0..1_000_000_000u32));
                w.row(&[
                    c.surname.to_uppercase(),
                    c.forename.to_string(),
                    uk(c.dob),
                    pc.to_string(),
                    pref,
                ])?;
            }
            let g = [0, 1, 1, 2][rng.random_range(0..4)];
            let h = self.headcount.get_mut(&(ay, t, g)).expect("same keys");
            if two && c.took_2yo {
                h.row(c, pc, "Disadvantaged 2YO", 15.0, PROVIDER_GROUPS[g].1, rng)?;
            } else if three_four && rng.random_bool(0.93) {
                if rng.random_bool(if c.fsm { 0.15 } else { 0.45 }) {
                    h.row(c, pc, "Extended 30 Hours", 30.0, PROVIDER_GROUPS[g].1, rng)?;
                } else {
                    h.row(c, pc, "Universal 15 Hours", 15.0, PROVIDER_GROUPS[g].1, rng)?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn finish(self, generated: &mut Generated) -> Result<()> {
        for (_, w) in self.dwp {
            w.finish(false)?;
            generated.files += 1;
        }
        for (_, h) in self.headcount {
            h.finish()?;
            generated.files += 1;
        }
        Ok(())
    }
}

/// (file-name group, provider type as written in the workbook).
pub(super) const PROVIDER_GROUPS: &[(&str, &str)] = &[
    ("school", "School"),
    ("pvi", "PVI"),
    ("childminder", "Childminder"),
];

const TERMS: &[(&str, u32, u32)] = &[("autumn", 9, 1), ("spring", 1, 1), ("summer", 4, 1)];

/// Start date of a term of academic year `ay`.
fn term_start(ay: i32, term: usize) -> NaiveDate {
    let (_, m, d) = TERMS[term];
    let y = if m >= 9 { ay } else { ay + 1 };
    NaiveDate::from_ymd_opt(y, m, d).expect("valid")
}

/// The provider headcount workbook of one term (constant-memory xlsx).
struct HeadcountOut {
    path: PathBuf,
    wb: Workbook,
    row: u32,
    date: XFormat,
}

const HEADCOUNT_HEADER: &[&str] = &[
    "Forename",
    "Surname",
    "Date of Birth",
    "Postcode",
    "Funding Type",
    "Funded Hours",
    "Provider URN",
    "Provider Type",
];

impl HeadcountOut {
    fn new(path: PathBuf) -> Result<Self> {
        let mut wb = Workbook::new();
        // A fixed creation time: same seed, same bytes.
        let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 1, 1).map_err(Error::internal)?;
        wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name("Headcount").map_err(Error::internal)?;
        ws.write_string(0, 0, "Early years census headcount (synthetic)")
            .map_err(Error::internal)?;
        for (i, h) in HEADCOUNT_HEADER.iter().enumerate() {
            ws.write_string(2, i as u16, *h).map_err(Error::internal)?;
        }
        Ok(HeadcountOut {
            path,
            wb,
            row: 3,
            date: XFormat::new().set_num_format("dd/mm/yyyy"),
        })
    }

    fn sheet(&mut self) -> Result<&mut Worksheet> {
        self.wb.worksheet_from_index(0).map_err(Error::internal)
    }

    fn row(
        &mut self,
        c: &Child,
        pc: &str,
        funding: &str,
        hours: f64,
        ptype: &str,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        if self.row >= 1_048_575 {
            return Err(Error::internal(format!(
                "{}: more rows than an xlsx sheet can hold; generate fewer children",
                self.path.display()
            )));
        }
        let r = self.row;
        let urn = format!(
            "EY{:06}",
            (c.ward * 31 + c.lsoa * 7 + rng.random_range(0..5)) % 900 + 100_000
        );
        let date = self.date.clone();
        let serial = (c.dob - NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid")).num_days() as f64;
        let ws = self.sheet()?;
        ws.write_string(r, 0, c.forename).map_err(Error::internal)?;
        ws.write_string(r, 1, c.surname).map_err(Error::internal)?;
        ws.write_number_with_format(r, 2, serial, &date)
            .map_err(Error::internal)?;
        ws.write_string(r, 3, pc).map_err(Error::internal)?;
        ws.write_string(r, 4, funding).map_err(Error::internal)?;
        ws.write_number(r, 5, hours).map_err(Error::internal)?;
        ws.write_string(r, 6, &urn).map_err(Error::internal)?;
        ws.write_string(r, 7, ptype).map_err(Error::internal)?;
        self.row += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        if let Some(p) = self.path.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::storage(p.display().to_string(), e))?;
        }
        self.wb
            .save(&self.path)
            .map_err(|e| Error::storage(self.path.display().to_string(), e.to_string()))
    }
}
