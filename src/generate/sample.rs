//! A sample from a partner the default project does not read yet.

use super::*;

/// A sample from a partner the default project does not read yet, for README's
/// "Adding a source" walkthrough (`startwell generate --new-source-sample FILE`):
/// a provider portal's nursery attendance export as such portals write it, with
/// two title rows, semicolons, CRLF line ends, Windows-1252 names, UPNs, NHS
/// numbers, postcodes, `dd/mm/yyyy` and `dd-Mon-yy` dates, a code column, hours
/// and a Y/N flag. Synthetic, and the same bytes every time.
pub fn new_source_sample(rows: u32) -> Vec<u8> {
    let mut text = String::from("Nursery attendance extract\r\nProduced by the provider portal\r\n");
    text.push_str(
        "Pupil UPN;NHS No;Child Forename;Child Surname;Date of Birth;Home Postcode;Setting Type;Hours;Attended;Start Date\r\n",
    );
    let settings = ["Nursery class", "Childminder", "PVI"];
    let forenames = ["Zoë", "Seán", "Aoife", "Chloé", "Oisín", "Renée"];
    let postcodes = ["NB1 1AA", "NB2 2BB", "NB3 3CC", "NB4 4DD"];
    for n in 0..rows {
        let i = n as usize;
        text.push_str(&format!(
            "{};{};{};Ó'Brien{n};{:02}/{:02}/2021;{};{};{}.5;{};{:02}-Sep-24\r\n",
            upn(n, 2026),
            nhs_number(900_000 + u64::from(n)),
            forenames[i % forenames.len()],
            1 + n % 28,
            1 + n % 12,
            postcodes[i % postcodes.len()],
            settings[i % settings.len()],
            10 + n % 5,
            if n % 4 == 0 { "N" } else { "Y" },
            1 + n % 28,
        ));
    }
    encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
}
