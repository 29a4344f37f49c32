//! `outputs/scorecard.html`: the scorecard as people read it. One
//! self-contained file (inline CSS and SVG; no script, font or request of any
//! kind), which works opened from disk or attached to an email and prints to A4.
//! Modelled on the national public-health profiles: an overview by domain, the
//! council among all councils (spine charts), the headline gap over time,
//! breakdowns with their intervals, wards against the council, and what every
//! figure means. Comparisons are always given in words as well as colour.
//!
//! Written with `maud`, which escapes every text (names come from public files).
//! Elements carrying a published figure have `data-indicator`, `data-period`,
//! `data-area` and `data-value` (the number as published), so a test can check
//! the page against `scorecard.parquet`.

use maud::{DOCTYPE, Markup, html};

use super::{
    DOMAINS, Inputs, Overview, Row, SYMBOLS, Spine, breakdowns, council_series, domain_title, interval_text,
    overview, spine, symbol_text, thousands, trend_text, value_text,
};
use crate::indicators::row::{ALL, AreaType, Unit};
use crate::stats::{Comparison, Polarity};

const CSS: &str = include_str!("report.css");

/// The colours of a comparison (fill, text): the profiles' palette, with white
/// text on dark fills for contrast.
fn colours(c: Comparison) -> (&'static str, &'static str) {
    match c {
        Comparison::Better95 | Comparison::Better998 => ("#92d050", "#000"),
        Comparison::Similar => ("#ffc000", "#000"),
        Comparison::Worse95 | Comparison::Worse998 => ("#c00000", "#fff"),
        Comparison::Lower => ("#3a3ad6", "#fff"),
        Comparison::Higher => ("#bed2ff", "#000"),
        Comparison::NotCompared => ("#ffffff", "#000"),
    }
}

fn badge(c: Comparison) -> Markup {
    let (bg, fg) = colours(c);
    html! {
        span.badge style=(format!("background:{bg};color:{fg}")) { (c.wording()) }
    }
}

/// A table's header row.
fn header_row(names: &[&str]) -> Markup {
    html! {
        thead { tr { @for n in names { th scope="col" { (n) } } } }
    }
}

/// The published number of a row, as the data attribute carries it.
fn data_value(r: &Row) -> String {
    r.value.map(|v| format!("{v}")).unwrap_or_default()
}

/// The page.
pub fn page(inputs: &Inputs<'_>) -> String {
    let council = inputs.council;
    let overview = overview(inputs.rows, inputs.catalogue, council);
    let latest_date = inputs.rows.iter().map(|r| r.period_end).max();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (council.name) ": early years outcomes scorecard" }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                a.skip href="#overview" { "Skip to the overview" }
                header {
                    h1 { (council.name) ": early years outcomes scorecard" }
                    p.lede {
                        "How the council's youngest children are doing: school readiness, childcare take-up and health visiting, "
                        "compared with England. Figures are disclosure-controlled (see "
                        a href="#about" { "About" } ")."
                    }
                    p.meta {
                        "Run " (inputs.run_id)
                        @if let Some(d) = latest_date { " · data to " (d.format("%-d %B %Y")) }
                    }
                    nav aria-label="Sections" {
                        ul {
                            li { a href="#headline" { "The headline gap" } }
                            li { a href="#overview" { "Overview" } }
                            li { a href="#spine" { "Among all councils" } }
                            li { a href="#breakdowns" { "Breakdowns" } }
                            li { a href="#wards" { "Wards" } }
                            li { a href="#about" { "About" } }
                        }
                    }
                }
                main {
                    (headline(inputs))
                    (overview_section(&overview))
                    (spine_section(inputs, &overview))
                    (breakdown_section(inputs, &overview))
                    (ward_section(inputs, &overview))
                    (about(inputs))
                }
            }
        }
    };
    markup.into_string()
}

/// The strategy's question: is the gap narrowing? The FSM gap and the FSM boys
/// gap over time with their intervals, England's beside them, and the targets.
fn headline(inputs: &Inputs<'_>) -> Markup {
    let gaps: Vec<_> = ["sr_gld_fsm_gap", "sr_gld_fsm_boys_gap"]
        .iter()
        .filter_map(|id| inputs.catalogue.iter().find(|i| i.id == *id))
        .collect();
    html! {
        section #headline aria-labelledby="headline-h" {
            h2 #headline-h { "Is the school-readiness gap narrowing?" }
            p {
                "The gap in a good level of development at the end of Reception between children not eligible for free school meals "
                "and those eligible (all, and boys), in percentage points, with 95% intervals (Newcombe's method). "
                "Lower is better. England's gap is shown beside the council's."
            }
            div.cards {
                @for ind in &gaps {
                    @let own = council_series(inputs.rows, ind, inputs.council, ALL, "All");
                    @let england: Vec<&Row> = {
                        let mut e: Vec<&Row> = inputs.rows.iter().filter(|r| r.indicator_id == ind.id && r.area_type == AreaType::England && r.is_total()).collect();
                        e.sort_by_key(|r| r.period_start);
                        e
                    };
                    figure.card {
                        figcaption { h3 { (ind.name) } }
                        (gap_chart(&ind.id, &own, &england))
                        table.data {
                            caption.visually-hidden { (ind.name) ", by year" }
                            (header_row(&["Year", "Council", "95% interval", "England"]))
                            tbody {
                                @for r in &own {
                                    tr {
                                        th scope="row" { (r.period) }
                                        td data-indicator=(ind.id) data-period=(r.period) data-area=(r.area_code) data-value=(data_value(r)) { (value_text(r)) }
                                        td { (interval_text(r)) }
                                        td { (england.iter().find(|e| e.period_key == r.period_key).map(|e| value_text(e)).unwrap_or_else(|| "–".into())) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !inputs.targets.is_empty() {
                h3 { "Targets" }
                ul.targets {
                    @for t in inputs.targets {
                        li { strong { (t.target) ": " (t.status.as_str().replace('_', " ")) } br; (t.wording) }
                    }
                }
            }
        }
    }
}

/// Points with interval whiskers over time (the council), and England's values
/// as hollow diamonds joined by a dashed line.
fn gap_chart(id: &str, own: &[&Row], england: &[&Row]) -> Markup {
    let (w, h, left, bottom, top) = (560.0, 240.0, 44.0, 28.0, 12.0);
    let periods: Vec<&str> = own.iter().map(|r| r.period_key.as_str()).collect();
    if periods.is_empty() {
        return html! { p { "No published years yet." } };
    }
    let mut lo: f64 = 0.0;
    let mut hi: f64 = 1.0;
    for r in own.iter().chain(england) {
        for v in [r.value, r.lower_95, r.upper_95].into_iter().flatten() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    // A round step giving at most five intervals.
    let tick = [1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0]
        .into_iter()
        .find(|s| (hi - lo) / s <= 5.0)
        .unwrap_or(100.0);
    let (lo, hi) = ((lo / tick).floor() * tick, (hi / tick).ceil() * tick);
    let plot_w = w - left - 10.0;
    let step = plot_w / periods.len() as f64;
    let x = |i: usize| left + step * (i as f64 + 0.5);
    let y = |v: f64| top + (h - top - bottom) * (1.0 - (v - lo) / (hi - lo).max(1e-9));
    let ticks: Vec<f64> = (0..=((hi - lo) / tick).round() as usize)
        .map(|k| lo + tick * k as f64)
        .collect();
    let eng_points: Vec<(f64, f64)> = england
        .iter()
        .filter_map(|e| {
            let i = periods.iter().position(|p| *p == e.period_key)?;
            Some((x(i), y(e.value?)))
        })
        .collect();
    let label = own
        .iter()
        .map(|r| format!("{} {}", r.period, value_text(r)))
        .collect::<Vec<_>>()
        .join("; ");
    html! {
        svg.chart viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(format!("{id} by year: {label}")) {
            @for t in &ticks {
                line x1=(left) x2=(w - 10.0) y1=(y(*t)) y2=(y(*t)) stroke="#ddd" {}
                text x=(left - 6.0) y=(y(*t) + 4.0) text-anchor="end" font-size="11" { (format!("{t:.0}")) }
            }
            @if !eng_points.is_empty() {
                polyline points=(eng_points.iter().map(|(a, b)| format!("{:.1},{b:.1}", a + 12.0)).collect::<Vec<_>>().join(" ")) fill="none" stroke="#555" stroke-dasharray="4 3" {}
                @for (a, b) in &eng_points {
                    path d=(format!("M{:.1} {:.1} l6 6 l-6 6 l-6 -6 z", a + 12.0, b - 6.0)) fill="#fff" stroke="#555" stroke-width="1.5" {}
                }
            }
            @for (i, r) in own.iter().enumerate() {
                @if let (Some(l), Some(u)) = (r.lower_95, r.upper_95) {
                    line x1=(x(i)) x2=(x(i)) y1=(y(l)) y2=(y(u)) stroke="#1f3864" stroke-width="2" {}
                    line x1=(x(i) - 5.0) x2=(x(i) + 5.0) y1=(y(l)) y2=(y(l)) stroke="#1f3864" stroke-width="2" {}
                    line x1=(x(i) - 5.0) x2=(x(i) + 5.0) y1=(y(u)) y2=(y(u)) stroke="#1f3864" stroke-width="2" {}
                }
                @if let Some(v) = r.value {
                    circle cx=(x(i)) cy=(y(v)) r="5" fill="#1f3864" {}
                }
                text x=(x(i)) y=(h - 8.0) text-anchor="middle" font-size="11" { (r.period) }
            }
        }
        p.legend {
            span.key-council aria-hidden="true" { "●" } " Council (with 95% interval)  "
            span.key-england aria-hidden="true" { "◇" } " England"
        }
    }
}

/// A small line of the recent values (at most the last eight periods).
fn sparkline(series: &[&Row]) -> Markup {
    let recent: Vec<&Row> = series.iter().rev().take(8).rev().copied().collect();
    let values: Vec<(usize, f64)> = recent
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.value?)))
        .collect();
    if values.len() < 2 {
        return html! { span.muted { "–" } };
    }
    let (w, h) = (90.0, 22.0);
    let lo = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let hi = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    let n = (recent.len() - 1).max(1) as f64;
    let pts: Vec<String> = values
        .iter()
        .map(|(i, v)| {
            let x = 3.0 + (w - 6.0) * *i as f64 / n;
            let y = 3.0 + (h - 6.0) * (1.0 - (v - lo) / (hi - lo).max(1e-9));
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let last = pts.last().cloned().unwrap_or_default();
    let (lx, ly) = last.split_once(',').unwrap_or(("0", "0"));
    let label = recent
        .iter()
        .map(|r| format!("{} {}", r.period, value_text(r)))
        .collect::<Vec<_>>()
        .join("; ");
    html! {
        svg.spark viewBox=(format!("0 0 {w} {h}")) width=(w) height=(h) role="img" aria-label=(format!("Recent periods: {label}")) {
            polyline points=(pts.join(" ")) fill="none" stroke="#1f3864" stroke-width="1.5" {}
            circle cx=(lx) cy=(ly) r="2.5" fill="#1f3864" {}
        }
    }
}

fn count_text(r: &Row) -> String {
    match (r.numerator, r.denominator) {
        (Some(x), Some(n)) => format!("{} of {}", thousands(x), thousands(n)),
        (Some(x), None) => thousands(x),
        _ => String::new(),
    }
}

fn overview_section(overview: &[Overview<'_>]) -> Markup {
    html! {
        section #overview aria-labelledby="overview-h" {
            h2 #overview-h { "Overview" }
            p { "Each indicator's latest period for the council, its 95% interval, England's value and how the two compare, the trend over the last five periods, and the counts behind the value." }
            @for d in DOMAINS {
                @let lines: Vec<&Overview> = overview.iter().filter(|o| o.indicator.domain == d).collect();
                @if !lines.is_empty() {
                    h3 { (domain_title(d)) }
                    div.scroll {
                        table.data.overview {
                            caption.visually-hidden { (domain_title(d)) ": latest values" }
                            (header_row(&["Indicator", "Period", "Value", "95% interval", "England", "Compared with England", "Trend", "Recent periods", "Count"]))
                            tbody {
                                @for o in &lines {
                                    @let r = o.latest;
                                    tr {
                                        th scope="row" { a href=(format!("#about-{}", o.indicator.id)) { (o.indicator.name) } }
                                        td { (r.period) }
                                        td.num data-indicator=(o.indicator.id) data-period=(r.period) data-area=(r.area_code) data-value=(data_value(r)) { (value_text(r)) }
                                        td.num { (interval_text(r)) }
                                        td.num { (r.benchmark_value.map(|b| format!("{b:.1}{}", r.unit.suffix())).unwrap_or_else(|| "–".into())) }
                                        td { (badge(r.comparison)) }
                                        td { (trend_text(r.trend_label())) }
                                        td { (sparkline(&o.series)) }
                                        td.num { (count_text(r)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A spine chart: the spread of all councils (the darker band the middle half),
/// England's value as a line, the council as a circle coloured by its
/// comparison, drawn from the worst (left) to the best (right).
fn spine_chart(id: &str, s: &Spine, polarity: Polarity, comparison: Comparison) -> Markup {
    let (w, h) = (260.0, 24.0);
    let lo = s.min.min(s.council).min(s.england.unwrap_or(s.min));
    let hi = s.max.max(s.council).max(s.england.unwrap_or(s.max));
    let flip = polarity == Polarity::LowerIsBetter;
    let x = |v: f64| {
        let t = (v - lo) / (hi - lo).max(1e-9);
        5.0 + (w - 10.0) * if flip { 1.0 - t } else { t }
    };
    let band = |a: f64, b: f64| (x(a).min(x(b)), (x(a) - x(b)).abs());
    let (outer_x, outer_w) = band(s.min, s.max);
    let (inner_x, inner_w) = band(s.q1, s.q3);
    let (fill, _) = colours(comparison);
    html! {
        svg.spine viewBox=(format!("0 0 {w} {h}")) role="img"
            aria-label=(format!("{id}: council {:.1}; councils range {:.1} to {:.1}, middle half {:.1} to {:.1}{}", s.council, s.min, s.max, s.q1, s.q3,
                s.england.map(|e| format!("; England {e:.1}")).unwrap_or_default())) {
            rect x=(outer_x) y="6" width=(outer_w) height="12" fill="#d9d9d9" {}
            rect x=(inner_x) y="6" width=(inner_w) height="12" fill="#8c8c8c" {}
            @if let Some(e) = s.england {
                line x1=(x(e)) x2=(x(e)) y1="2" y2="22" stroke="#000" stroke-width="2" {}
            }
            circle cx=(x(s.council)) cy="12" r="6" fill=(fill) stroke="#000" stroke-width="1" {}
        }
    }
}

fn spine_section(inputs: &Inputs<'_>, overview: &[Overview<'_>]) -> Markup {
    let spines: Vec<(&Overview, &Row, Spine)> = overview
        .iter()
        .filter_map(|o| {
            let (r, s) = spine(o, inputs.spread, inputs.rows, inputs.council)?;
            Some((o, r, s))
        })
        .collect();
    html! {
        section #spine aria-labelledby="spine-h" {
            h2 #spine-h { "Among all councils" }
            p {
                "For indicators whose public files hold every council: the council's value (circle, coloured by its comparison with England) "
                "against the spread of all councils: the lightest band from the lowest to the highest, the darker band the middle half, "
                "the black line England. Worst on the left, best on the right. Rank 1 is the best."
            }
            @if spines.is_empty() {
                p { "No indicator has every council's figure in the public files loaded." }
            } @else {
                div.scroll {
                    table.data {
                        caption.visually-hidden { "The council among all councils" }
                        (header_row(&["Indicator", "Period", "Council", "England", "Lowest", "Spread of councils", "Highest", "Rank", "Among comparators"]))
                        tbody {
                            @for (o, r, s) in &spines {
                                tr {
                                    th scope="row" { (o.indicator.name) }
                                    td { (r.period) }
                                    td.num data-indicator=(o.indicator.id) data-period=(r.period) data-area=(r.area_code) data-value=(data_value(r)) { (value_text(r)) }
                                    td.num { (s.england.map(|e| format!("{e:.1}")).unwrap_or_else(|| "–".into())) }
                                    td.num { (format!("{:.1}", s.min)) }
                                    td { (spine_chart(&o.indicator.id, s, o.indicator.polarity, r.comparison)) }
                                    td.num { (format!("{:.1}", s.max)) }
                                    td.num { (s.rank) " of " (s.councils) }
                                    td.num { (s.comparator_rank) " of " (s.comparators) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn breakdown_label(b: &str) -> String {
    super::super::ees::topic(b)
}

/// Bars with 95% whiskers for each breakdown value, and the council's value as a line.
fn bars(id: &str, rows: &[&Row], council_value: Option<f64>, unit: Unit) -> Markup {
    let row_h = 20.0;
    let (label_w, w) = (170.0, 560.0);
    let h = row_h * rows.len() as f64 + 8.0;
    let mut hi: f64 = if unit == Unit::Percent { 100.0 } else { 1.0 };
    let mut lo: f64 = 0.0;
    for r in rows {
        for v in [r.value, r.upper_95, r.lower_95].into_iter().flatten() {
            hi = hi.max(v);
            lo = lo.min(v);
        }
    }
    let plot = w - label_w - 60.0;
    let x = |v: f64| label_w + plot * (v - lo) / (hi - lo).max(1e-9);
    html! {
        svg.bars viewBox=(format!("0 0 {w} {h}")) role="img"
            aria-label=(format!("{id}: {}", rows.iter().map(|r| format!("{} {}", r.breakdown_value, value_text(r))).collect::<Vec<_>>().join("; "))) {
            @for (i, r) in rows.iter().enumerate() {
                @let y = 4.0 + row_h * i as f64;
                text x=(label_w - 6.0) y=(y + 14.0) text-anchor="end" font-size="12" { (r.breakdown_value) }
                @if let Some(v) = r.value {
                    rect x=(x(lo.max(0.0_f64.min(v)))) y=(y + 3.0) width=((x(v) - x(0.0_f64.max(lo))).abs()) height="12" fill="#8faadc" {}
                    @if let (Some(l), Some(u)) = (r.lower_95, r.upper_95) {
                        line x1=(x(l)) x2=(x(u)) y1=(y + 9.0) y2=(y + 9.0) stroke="#000" stroke-width="1.5" {}
                        line x1=(x(l)) x2=(x(l)) y1=(y + 5.0) y2=(y + 13.0) stroke="#000" stroke-width="1.5" {}
                        line x1=(x(u)) x2=(x(u)) y1=(y + 5.0) y2=(y + 13.0) stroke="#000" stroke-width="1.5" {}
                    }
                    text x=(w - 54.0) y=(y + 14.0) font-size="12" { (value_text(r)) }
                } @else {
                    text x=(label_w + 4.0) y=(y + 14.0) font-size="12" fill="#555" { (value_text(r)) }
                }
            }
            @if let Some(c) = council_value {
                line x1=(x(c)) x2=(x(c)) y1="0" y2=(h) stroke="#c00000" stroke-width="1.5" stroke-dasharray="3 2" {}
            }
        }
    }
}

fn breakdown_section(inputs: &Inputs<'_>, overview: &[Overview<'_>]) -> Markup {
    html! {
        section #breakdowns aria-labelledby="breakdowns-h" {
            h2 #breakdowns-h { "Breakdowns" }
            p { "The latest period's value for each group of children, with its 95% interval (whiskers); the dashed red line is the council as a whole." }
            @for o in overview {
                @let groups = breakdowns(inputs.rows, o, inputs.council);
                @let groups: Vec<_> = groups.into_iter().filter(|(b, _)| b != "ward").collect();
                @if !groups.is_empty() {
                    div.breakdown {
                        h3 { (o.indicator.name) " (" (o.latest.period) ")" }
                        div.groups {
                            @for (b, rows) in &groups {
                                div.group {
                                    h4 { (breakdown_label(b)) }
                                    (bars(&format!("{} by {}", o.indicator.id, b), rows, o.latest.value, o.latest.unit))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How a ward compares with the council: the council's value outside the ward's
/// 95% interval, by polarity.
fn ward_comparison(ward: &Row, council: Option<f64>, polarity: Polarity) -> Comparison {
    match (council, ward.lower_95, ward.upper_95) {
        (Some(c), Some(l), Some(u)) => {
            crate::stats::compare(c, crate::stats::Interval { lower: l, upper: u }, None, polarity)
        }
        _ => Comparison::NotCompared,
    }
}

fn ward_section(inputs: &Inputs<'_>, overview: &[Overview<'_>]) -> Markup {
    let with_wards: Vec<&Overview> = overview
        .iter()
        .filter(|o| {
            inputs
                .rows
                .iter()
                .any(|r| r.indicator_id == o.indicator.id && r.area_type == AreaType::Ward)
        })
        .collect();
    let mut wards: Vec<(String, String)> = inputs
        .rows
        .iter()
        .filter(|r| r.area_type == AreaType::Ward)
        .map(|r| (r.area_name.clone(), r.area_code.clone()))
        .collect();
    wards.sort();
    wards.dedup();
    // Ward rows by (indicator, period, ward): one pass, not one per cell.
    let by_cell: std::collections::HashMap<(&str, &str, &str), &Row> = inputs
        .rows
        .iter()
        .filter(|r| r.area_type == AreaType::Ward && r.is_total())
        .map(|r| {
            (
                (
                    r.indicator_id.as_str(),
                    r.period_key.as_str(),
                    r.area_code.as_str(),
                ),
                r,
            )
        })
        .collect();
    let cell = |o: &Overview, code: &str| {
        by_cell
            .get(&(o.indicator.id.as_str(), o.latest.period_key.as_str(), code))
            .copied()
    };
    html! {
        section #wards aria-labelledby="wards-h" {
            h2 #wards-h { "Wards" }
            p {
                "Each ward's latest value, coloured by how it compares with the council as a whole (the council's value outside the ward's 95% interval): "
                (badge(Comparison::Better95)) " " (badge(Comparison::Similar)) " " (badge(Comparison::Worse95)) " "
                (badge(Comparison::Higher)) " " (badge(Comparison::Lower)) " (for indicators with no better or worse). "
                "The marks ▲ (better or higher), ● (similar) and ▼ (worse or lower) say the same without colour."
            }
            @if with_wards.is_empty() || wards.is_empty() {
                p { "No ward figures are published." }
            } @else {
                div.scroll {
                    table.data.rug {
                        caption.visually-hidden { "Wards compared with the council" }
                        thead {
                            tr {
                                th scope="col" { "Ward" }
                                @for o in &with_wards {
                                    th scope="col" title=(o.indicator.name) { span.vertical { (o.indicator.id) } }
                                }
                            }
                        }
                        tbody {
                            tr.council {
                                th scope="row" { (inputs.council.name) " (council)" }
                                @for o in &with_wards {
                                    td.num { (value_text(o.latest)) }
                                }
                            }
                            @for (name, code) in &wards {
                                tr {
                                    th scope="row" { (name) }
                                    @for o in &with_wards {
                                        @match cell(o, code) {
                                            Some(r) => {
                                                @let c = ward_comparison(r, o.latest.value, o.indicator.polarity);
                                                @let (bg, fg) = colours(c);
                                                @let mark = if c.is_better() || c == Comparison::Higher { "▲" } else if c.is_worse() || c == Comparison::Lower { "▼" } else if c == Comparison::Similar { "●" } else { "" };
                                                td.num style=(format!("background:{bg};color:{fg}")) title=(c.wording())
                                                    data-indicator=(o.indicator.id) data-period=(r.period) data-area=(r.area_code) data-value=(data_value(r)) {
                                                    @if r.value.is_some() { (value_text(r)) } @else { abbr title=(symbol_text(r.status_symbol.as_deref())) { (r.status_symbol.as_deref().unwrap_or("x")) } }
                                                    @if !mark.is_empty() { " " span aria-label=(c.wording()) { (mark) } }
                                                }
                                            }
                                            None => { td.muted { "–" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn about(inputs: &Inputs<'_>) -> Markup {
    html! {
        section #about aria-labelledby="about-h" {
            h2 #about-h { "About these figures" }
            h3 { "Symbols" }
            dl.symbols {
                @for (s, m) in SYMBOLS { dt { (s) } dd { (m) } }
            }
            h3 { "Comparisons and trends" }
            p {
                "Compared with England: " (badge(Comparison::Better998)) " / " (badge(Comparison::Worse998))
                " England's value lies outside the council's 99.8% interval, on the better or worse side; "
                (badge(Comparison::Better95)) " / " (badge(Comparison::Worse95)) " outside its 95% interval; "
                (badge(Comparison::Similar)) " inside it; " (badge(Comparison::Higher)) " / " (badge(Comparison::Lower))
                " significantly higher or lower where higher is neither better nor worse. "
                "Trends: the chi-squared test for trend over the last five consecutive periods (99.8%), worded by whether higher is better."
            }
            h3 { "Disclosure control" }
            p { (inputs.disclosure) }
            h3 { "This publication" }
            p { "Run " (inputs.run_id) ". " (inputs.council.name) " (" (inputs.council.code) "). Every figure here is in outputs/scorecard.parquet and outputs/scorecard.xlsx." }
            h3 { "Indicators" }
            @for m in inputs.metadata {
                article.indicator #(format!("about-{}", m.indicator_id)) {
                    h4 { (m.indicator_name) " " span.muted { "(" (m.indicator_id) ")" } }
                    dl {
                        dt { "Definition" } dd { (m.definition) }
                        dt { "Why it matters" } dd { (m.rationale) }
                        dt { "Numerator" } dd { (m.numerator_definition) }
                        dt { "Denominator" } dd { (m.denominator_definition) }
                        dt { "Source" } dd { (m.data_source) }
                        dt { "Method" } dd { (m.confidence_interval_method) "; " (m.frequency) "." }
                        @if !m.caveats.is_empty() { dt { "Caveats" } dd { (m.caveats) } }
                        @if !m.series_start.is_empty() { dt { "Series starts" } dd { (m.series_start) } }
                    }
                }
            }
            p.muted { "Symbols in cells: " @for (s, _) in SYMBOLS { (symbol_text(Some(s))) "; " } }
        }
    }
}
