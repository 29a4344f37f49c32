//! The EYFSP returns: one CSV per academic year, whose header spellings and
//! codes vary by year (some from Excel in Windows-1252, others UTF-8 with a BOM),
//! and a corrected re-delivery of one year.

use super::benchmarks::BenchCounts;
use super::*;

/// The EYFSP files being written.
pub(super) struct Files {
    years: Vec<i32>,
    by_year: BTreeMap<i32, CsvOut>,
    /// The corrected re-delivery of the most recent year but one (or the only year).
    corrected: CsvOut,
    corrected_ay: i32,
    corrected_index: usize,
}

impl Files {
    pub(super) fn create(out: &Path, years: &[i32], mtimes: &mut Vec<(PathBuf, NaiveDate)>) -> Result<Files> {
        let mut by_year: BTreeMap<i32, CsvOut> = BTreeMap::new();
        for (i, ay) in years.iter().enumerate() {
            let path = out
                .join("eyfsp")
                .join(format!("eyfsp_{}-{:02}.csv", ay, (ay + 1) % 100));
            let header = eyfsp_header(i);
            by_year.insert(
                *ay,
                CsvOut::create(&path, &header, !i.is_multiple_of(2), i.is_multiple_of(2))?,
            );
            mtimes.push((path, NaiveDate::from_ymd_opt(ay + 1, 7, 20).expect("valid")));
        }
        let corrected_ay = if years.len() > 1 {
            years[years.len() - 2]
        } else {
            years[0]
        };
        let corrected_path = out.join("eyfsp").join(format!(
            "eyfsp_{}-{:02}_corrected.csv",
            corrected_ay,
            (corrected_ay + 1) % 100
        ));
        let ci = years.iter().position(|y| *y == corrected_ay).expect("present");
        let corrected = CsvOut::create(&corrected_path, &eyfsp_header(ci), false, ci.is_multiple_of(2))?;
        mtimes.push((
            corrected_path,
            NaiveDate::from_ymd_opt(corrected_ay + 1, 9, 15).expect("valid"),
        ));
        Ok(Files {
            years: years.to_vec(),
            by_year,
            corrected,
            corrected_ay,
            corrected_index: ci,
        })
    }

    /// The child's return at the end of Reception (academic year `birth_ay + 5`),
    /// when that year is delivered; counted in `bench` for the national files.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &mut self,
        birth_ay: i32,
        n: u32,
        c: &Child,
        pc: &str,
        asq: &Asq,
        rng: &mut ChaCha8Rng,
        bench: &mut BenchCounts,
    ) -> Result<()> {
        let eyfsp_ay = birth_ay + 5;
        let Some(w) = self.by_year.get_mut(&eyfsp_ay) else {
            return Ok(());
        };
        let (eth_dfe, _, _, _) = ETHNICITIES[c.eth];
        let yi = self.years.iter().position(|y| *y == eyfsp_ay).expect("present");
        let a = c.ability - if asq.below_comm { 0.3 } else { 0.0 };
        let mut elgs: Vec<String> = (0..17)
            .map(|_| {
                if a + 0.45 * normal(rng) > -1.7 {
                    "2".into()
                } else {
                    "1".into()
                }
            })
            .collect();
        if rng.random_bool(0.004) {
            elgs[rng.random_range(0..17)] = "A".into();
        }
        let row = eyfsp_row(c, pc, eth_dfe, yi, &elgs, rng);
        bench.add(c, &elgs, eyfsp_ay);
        w.row(&row)?;
        if eyfsp_ay == self.corrected_ay {
            // The correction changes a few outcomes.
            let mut elgs2 = elgs.clone();
            if n.is_multiple_of(97) {
                elgs2[9] = if elgs2[9] == "2" { "1".into() } else { "2".into() };
            }
            self.corrected
                .row(&eyfsp_row(c, pc, eth_dfe, self.corrected_index, &elgs2, rng))?;
        }
        if rng.random_bool(0.002) {
            w.row(&row)?; // a duplicated row
        }
        Ok(())
    }

    pub(super) fn finish(self, generated: &mut Generated) -> Result<()> {
        for (_, w) in self.by_year {
            w.finish(true)?;
            generated.files += 1;
        }
        self.corrected.finish(false)?;
        generated.files += 1;
        Ok(())
    }
}

const ELG_HEADERS: &[&str] = &[
    "ELG01 Listening, Attention and Understanding",
    "ELG02 Speaking",
    "ELG03 Self-Regulation",
    "ELG04 Managing Self",
    "ELG05 Building Relationships",
    "ELG06 Gross Motor Skills",
    "ELG07 Fine Motor Skills",
    "ELG08 Comprehension",
    "ELG09 Word Reading",
    "ELG10 Writing",
    "ELG11 Number",
    "ELG12 Numerical Patterns",
    "ELG13 Past and Present",
    "ELG14 People, Culture and Communities",
    "ELG15 The Natural World",
    "ELG16 Creating with Materials",
    "ELG17 Being Imaginative and Expressive",
];

/// The EYFSP header of the `year_index`-th delivery: the spelling changes between years.
fn eyfsp_header(year_index: usize) -> Vec<&'static str> {
    let mut header: Vec<&str> = if year_index.is_multiple_of(2) {
        vec![
            "UPN",
            "NHS Number",
            "Forename",
            "Surname",
            "DOB",
            "Gender",
            "Ethnicity",
            "FSM",
            "SEN Provision",
            "Looked After",
            "First Language",
            "Postcode",
            "School URN",
        ]
    } else {
        vec![
            "Unique Pupil Number",
            "NHS No",
            "First Name",
            "Last Name",
            "Date of Birth",
            "Sex",
            "Ethnic Code",
            "FSM Eligible",
            "SEN",
            "CLA",
            "Language",
            "Home Postcode",
            "URN",
        ]
    };
    header.extend(ELG_HEADERS);
    header
}

fn eyfsp_row(
    c: &Child,
    pc: &str,
    eth: &str,
    year_index: usize,
    elgs: &[String],
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    let v = year_index % 3;
    let sex = match v {
        0 => {
            if c.male {
                "M"
            } else {
                "F"
            }
        }
        1 => {
            if c.male {
                "Male"
            } else {
                "Female"
            }
        }
        _ => {
            if c.male {
                "1"
            } else {
                "2"
            }
        }
    };
    let fsm = match v {
        0 => {
            if c.fsm {
                "Y"
            } else {
                "N"
            }
        }
        1 => {
            if c.fsm {
                "Yes"
            } else {
                "No"
            }
        }
        _ => {
            if c.fsm {
                "1"
            } else {
                "0"
            }
        }
    };
    let sen = ["N", "K", "E"][c.sen as usize];
    let mut upn = c.upn.clone();
    let mut dob = uk(c.dob);
    let mut elgs = elgs.to_vec();
    if rng.random_bool(0.004) {
        match rng.random_range(0..3) {
            0 => upn.replace_range(0..1, if upn.starts_with('A') { "B" } else { "A" }),
            1 => dob = "31/02/2019".into(),
            _ => elgs[3] = "3".into(),
        }
    }
    // The early-years system holds the NHS number for most children.
    let nhs = if rng.random_bool(0.92) {
        c.nhs.clone()
    } else {
        String::new()
    };
    let mut row = vec![
        upn,
        nhs,
        c.forename.to_string(),
        c.surname.to_string(),
        dob,
        sex.to_string(),
        eth.to_string(),
        fsm.to_string(),
        sen.to_string(),
        if c.lac { "Y" } else { "N" }.to_string(),
        if c.eal { "Other than English" } else { "English" }.to_string(),
        pc.to_string(),
        format!("1{:05}", (c.ward * 7 + c.lsoa) % 60 + 10_000),
    ];
    row.extend(elgs);
    row
}
