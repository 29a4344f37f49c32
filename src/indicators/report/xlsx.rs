//! `outputs/scorecard.xlsx`: a workbook a council analyst can forward as it is.
//! A formatted summary (the overview, coloured by the comparison with England,
//! always with the words too), one sheet per domain with every published row
//! (frozen header, filters, one-decimal numbers, dates as dates), the indicator
//! metadata, and notes (symbols, disclosure, methods).

use datafusion::arrow::datatypes::DataType;
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet, XlsxError};

use super::{DOMAINS, Inputs, SYMBOLS, domain_title, overview, trend_text};
use crate::error::{Error, Result};
use crate::stats::Comparison;

/// The fill and font colours of a comparison (the profiles' palette; dark fills
/// take white text for contrast).
pub fn comparison_colours(c: Comparison) -> (u32, u32) {
    match c {
        Comparison::Better95 | Comparison::Better998 => (0x92D050, 0x000000),
        Comparison::Similar => (0xFFC000, 0x000000),
        Comparison::Worse95 | Comparison::Worse998 => (0xC00000, 0xFFFFFF),
        Comparison::Lower => (0x5555E6, 0xFFFFFF),
        Comparison::Higher => (0xBED2FF, 0x000000),
        Comparison::NotCompared => (0xFFFFFF, 0x000000),
    }
}

fn x(e: XlsxError) -> Error {
    Error::internal(format!("writing scorecard.xlsx: {e}"))
}

struct Formats {
    header: Format,
    title: Format,
    wrap: Format,
    one_dp: Format,
    whole: Format,
    date: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0x1F3864))
                .set_font_color(Color::White)
                .set_text_wrap()
                .set_border(FormatBorder::Thin),
            title: Format::new().set_bold().set_font_size(14),
            wrap: Format::new().set_text_wrap(),
            one_dp: Format::new().set_num_format("0.0"),
            whole: Format::new().set_num_format("#,##0"),
            date: Format::new().set_num_format("dd/mm/yyyy"),
        }
    }
}

fn header(ws: &mut Worksheet, row: u32, names: &[&str], f: &Formats) -> Result<()> {
    for (c, n) in names.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *n, &f.header)
            .map_err(x)?;
    }
    Ok(())
}

/// The workbook's bytes.
pub fn workbook(inputs: &Inputs<'_>) -> Result<Vec<u8>> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    summary(wb.add_worksheet(), inputs, &f)?;
    for d in DOMAINS {
        let rows: Vec<&super::Row> = inputs.rows.iter().filter(|r| r.domain == d.as_str()).collect();
        if rows.is_empty() {
            continue;
        }
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name(sheet_name(d)).map_err(x)?;
        domain_sheet(ws, &rows, inputs.run_id, &f)?;
    }
    metadata_sheet(wb.add_worksheet(), inputs, &f)?;
    notes(wb.add_worksheet(), inputs, &f)?;
    wb.save_to_buffer().map_err(x)
}

fn sheet_name(d: super::Domain) -> &'static str {
    match d {
        super::Domain::SchoolReadiness => "School readiness",
        super::Domain::Childcare => "Childcare",
        super::Domain::HealthVisiting => "Health visiting",
        super::Domain::Linked => "Linked",
    }
}

const SUMMARY: [&str; 13] = [
    "Domain",
    "Indicator",
    "Period",
    "Value",
    "Unit",
    "Lower 95%",
    "Upper 95%",
    "England",
    "Compared with England",
    "Trend",
    "Numerator",
    "Denominator",
    "Symbol",
];

fn summary(ws: &mut Worksheet, inputs: &Inputs<'_>, f: &Formats) -> Result<()> {
    ws.set_name("Summary").map_err(x)?;
    ws.write_string_with_format(
        0,
        0,
        format!("{}: early years outcomes scorecard", inputs.council.name),
        &f.title,
    )
    .map_err(x)?;
    ws.write_string(
        1,
        0,
        "Each indicator's latest period for the council, compared with England (colour and words). \
         Every published row is on the domain sheets; symbols and methods are on the Notes sheet.",
    )
    .map_err(x)?;
    header(ws, 3, &SUMMARY, f)?;
    let mut row = 4u32;
    for o in overview(inputs.rows, inputs.catalogue, inputs.council) {
        let r = o.latest;
        let c = r.comparison;
        let (fill, font) = comparison_colours(c);
        let coloured = Format::new()
            .set_background_color(Color::RGB(fill))
            .set_font_color(Color::RGB(font))
            .set_border(FormatBorder::Thin);
        ws.write_string(row, 0, domain_title(o.indicator.domain))
            .map_err(x)?;
        ws.write_string_with_format(row, 1, &o.indicator.name, &f.wrap)
            .map_err(x)?;
        ws.write_string(row, 2, &r.period).map_err(x)?;
        match r.value {
            Some(v) => ws.write_number_with_format(row, 3, v, &f.one_dp),
            None => ws.write_string(row, 3, r.status_symbol.as_deref().unwrap_or("x")),
        }
        .map_err(x)?;
        ws.write_string(row, 4, r.unit.as_str()).map_err(x)?;
        for (col, v) in [(5, r.lower_95), (6, r.upper_95), (7, r.benchmark_value)] {
            if let Some(v) = v {
                ws.write_number_with_format(row, col, v, &f.one_dp).map_err(x)?;
            }
        }
        ws.write_string_with_format(row, 8, c.wording(), &coloured)
            .map_err(x)?;
        ws.write_string(row, 9, trend_text(r.trend_label())).map_err(x)?;
        for (col, v) in [(10, r.numerator), (11, r.denominator)] {
            if let Some(v) = v {
                ws.write_number_with_format(row, col, v as f64, &f.whole)
                    .map_err(x)?;
            }
        }
        if let Some(s) = &r.status_symbol {
            ws.write_string(row, 12, s).map_err(x)?;
        }
        row += 1;
    }
    for (c, w) in [
        16.0, 60.0, 12.0, 9.0, 16.0, 10.0, 10.0, 10.0, 22.0, 28.0, 12.0, 12.0, 8.0,
    ]
    .into_iter()
    .enumerate()
    {
        ws.set_column_width(c as u16, w).map_err(x)?;
    }
    ws.set_freeze_panes(4, 2).map_err(x)?;
    ws.autofilter(3, 0, row.saturating_sub(1).max(3), SUMMARY.len() as u16 - 1)
        .map_err(x)?;
    ws.set_landscape().set_paper_size(9).set_print_fit_to_pages(1, 0);
    Ok(())
}

fn domain_sheet(ws: &mut Worksheet, rows: &[&super::Row], run_id: &str, f: &Formats) -> Result<()> {
    use datafusion::arrow::array::{Array, Date32Array, Float64Array, Int64Array, StringArray};
    let schema = super::super::publish::schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    // Filters and frozen header first: a constant-memory sheet is written row by row.
    ws.set_freeze_panes(1, 2).map_err(x)?;
    ws.autofilter(0, 0, rows.len().max(1) as u32, names.len() as u16 - 1)
        .map_err(x)?;
    for (c, n) in names.iter().enumerate() {
        let width = match *n {
            "indicator_name" => 50.0,
            "indicator_id" | "area_name" | "breakdown_value" | "run_id" => 22.0,
            _ => 13.0,
        };
        ws.set_column_width(c as u16, width).map_err(x)?;
    }
    header(ws, 0, &names, f)?;
    let owned: Vec<super::Row> = rows.iter().map(|r| (*r).clone()).collect();
    let batch = super::super::publish::to_batch(&owned, run_id)?;
    for i in 0..batch.num_rows() {
        let row = i as u32 + 1;
        for (c, field) in schema.fields().iter().enumerate() {
            let col = batch.column(c);
            let c16 = c as u16;
            if col.is_null(i) {
                continue;
            }
            let any = col.as_any();
            match field.data_type() {
                DataType::Utf8 => {
                    if let Some(a) = any.downcast_ref::<StringArray>() {
                        ws.write_string(row, c16, a.value(i)).map_err(x)?;
                    }
                }
                DataType::Int64 => {
                    if let Some(a) = any.downcast_ref::<Int64Array>() {
                        ws.write_number_with_format(row, c16, a.value(i) as f64, &f.whole)
                            .map_err(x)?;
                    }
                }
                DataType::Float64 => {
                    if let Some(a) = any.downcast_ref::<Float64Array>() {
                        ws.write_number_with_format(row, c16, a.value(i), &f.one_dp)
                            .map_err(x)?;
                    }
                }
                DataType::Date32 => {
                    if let Some(d) = any.downcast_ref::<Date32Array>().and_then(|a| a.value_as_date(i)) {
                        use chrono::Datelike;
                        let date = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                            .map_err(x)?;
                        ws.write_datetime_with_format(row, c16, &date, &f.date)
                            .map_err(x)?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn metadata_sheet(ws: &mut Worksheet, inputs: &Inputs<'_>, f: &Formats) -> Result<()> {
    ws.set_name("Indicators").map_err(x)?;
    let batch = super::super::metadata::to_batch(inputs.metadata)?;
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    header(ws, 0, &names, f)?;
    for (c, name) in names.iter().enumerate() {
        let a = batch
            .column(c)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .ok_or_else(|| Error::internal("metadata columns are text"))?;
        for i in 0..batch.num_rows() {
            ws.write_string_with_format(i as u32 + 1, c as u16, a.value(i), &f.wrap)
                .map_err(x)?;
        }
        let width = if matches!(
            *name,
            "definition" | "rationale" | "caveats" | "disclosure_control"
        ) {
            60.0
        } else {
            24.0
        };
        ws.set_column_width(c as u16, width).map_err(x)?;
    }
    ws.set_freeze_panes(1, 1).map_err(x)?;
    ws.autofilter(0, 0, batch.num_rows() as u32, batch.num_columns() as u16 - 1)
        .map_err(x)?;
    Ok(())
}

fn notes(ws: &mut Worksheet, inputs: &Inputs<'_>, f: &Formats) -> Result<()> {
    ws.set_name("Notes").map_err(x)?;
    let mut row = 0u32;
    let mut line = |ws: &mut Worksheet, a: &str, b: &str, format: Option<&Format>| -> Result<()> {
        match format {
            Some(fm) => ws.write_string_with_format(row, 0, a, fm),
            None => ws.write_string(row, 0, a),
        }
        .map_err(x)?;
        ws.write_string_with_format(row, 1, b, &f.wrap).map_err(x)?;
        row += 1;
        Ok(())
    };
    line(ws, "Notes", "", Some(&f.title))?;
    line(
        ws,
        "Council",
        &format!("{} ({})", inputs.council.name, inputs.council.code),
        None,
    )?;
    line(ws, "Run", inputs.run_id, None)?;
    line(ws, "Disclosure control", &inputs.disclosure, None)?;
    line(ws, "", "", None)?;
    line(ws, "Symbol", "Meaning", Some(&f.header))?;
    for (s, m) in SYMBOLS {
        line(ws, s, m, None)?;
    }
    line(ws, "", "", None)?;
    line(ws, "Compared with England", "Meaning", Some(&f.header))?;
    for c in Comparison::ALL {
        let meaning = match c {
            Comparison::Better998 => {
                "England's value is outside the area's 99.8% interval, on the better side"
            }
            Comparison::Better95 => "England's value is outside the area's 95% interval, on the better side",
            Comparison::Similar => "England's value is inside the area's 95% interval",
            Comparison::Worse95 => "England's value is outside the area's 95% interval, on the worse side",
            Comparison::Worse998 => "England's value is outside the area's 99.8% interval, on the worse side",
            Comparison::Lower => "Significantly lower than England (no better or worse for this indicator)",
            Comparison::Higher => "Significantly higher than England (no better or worse for this indicator)",
            Comparison::NotCompared => "No England value, or no interval, to compare with",
        };
        line(ws, c.wording(), meaning, None)?;
    }
    line(ws, "", "", None)?;
    line(
        ws,
        "Methods",
        "Proportions: Wilson score intervals. Gaps: Newcombe's hybrid score interval. Means: Student's t \
         (n − 1 degrees of freedom). Trends: chi-squared test for trend over the last five consecutive \
         periods at 99.8%, worded by the indicator's polarity.",
        None,
    )?;
    ws.set_column_width(0, 26.0).map_err(x)?;
    ws.set_column_width(1, 100.0).map_err(x)?;
    Ok(())
}
