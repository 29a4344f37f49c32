//! The statistics as DataFusion scalar functions, usable from any indicator SQL:
//! `wilson_lower(x, n, z)`, `wilson_upper(x, n, z)` (percent, 0–100),
//! `newcombe_lower/upper(x1, n1, x2, n2, z)` (percentage points),
//! `compare_benchmark(b, l95, u95, l998, u998, polarity)`, `z95()`, `z998()`,
//! `imd_quintile(decile)`, `fy_quarter(date)`, `add_days`, `add_months`, `key128(key)`,
//! `in_part(key)` (see [`in_part_udf`]). Invalid
//! input is an execution error naming the function, never a number.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use crate::stats::{Z95, Z998, wilson};

fn to_f64(v: &ColumnarValue, rows: usize) -> Result<Float64Array> {
    let a = v.clone().into_array(rows)?;
    let a = cast(&a, &DataType::Float64)?;
    Ok(a.as_any()
        .downcast_ref::<Float64Array>()
        .expect("cast to f64")
        .clone())
}

fn wilson_udf(name: &'static str, upper: bool) -> ScalarUDF {
    let f = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let rows = args
            .iter()
            .find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                _ => None,
            })
            .unwrap_or(1);
        let (x, n, z) = (
            to_f64(&args[0], rows)?,
            to_f64(&args[1], rows)?,
            to_f64(&args[2], rows)?,
        );
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            if x.is_null(i) || n.is_null(i) || z.is_null(i) {
                out.push(None);
                continue;
            }
            let ci = wilson(x.value(i), n.value(i), z.value(i))
                .map_err(|e| DataFusionError::Execution(format!("{name}: {e}")))?;
            out.push(Some(100.0 * if upper { ci.upper } else { ci.lower }));
        }
        let arr: ArrayRef = Arc::new(Float64Array::from(out));
        if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&arr, 0)?))
        } else {
            Ok(ColumnarValue::Array(arr))
        }
    };
    create_udf(
        name,
        vec![DataType::Float64, DataType::Float64, DataType::Float64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(f),
    )
}

/// `newcombe_lower(x1, n1, x2, n2, z)` / `newcombe_upper(…)`: Newcombe's hybrid
/// score interval for p1 − p2, in percentage points.
fn newcombe_udf(name: &'static str, upper: bool) -> ScalarUDF {
    let f = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let rows = rows_of(args);
        let a: Vec<Float64Array> = args.iter().map(|v| to_f64(v, rows)).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            if a.iter().any(|c| c.is_null(i)) {
                out.push(None);
                continue;
            }
            let ci = crate::stats::newcombe(
                a[0].value(i),
                a[1].value(i),
                a[2].value(i),
                a[3].value(i),
                a[4].value(i),
            )
            .map_err(|e| DataFusionError::Execution(format!("{name}: {e}")))?;
            out.push(Some(100.0 * if upper { ci.upper } else { ci.lower }));
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    };
    create_udf(
        name,
        vec![DataType::Float64; 5],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(f),
    )
}

/// `compare_benchmark(benchmark, lower_95, upper_95, lower_998, upper_998, polarity)`:
/// `better_95`, `better_998`, `similar`, `worse_95`, `worse_998`, `lower`, `higher` or `not_compared`.
fn compare_udf() -> ScalarUDF {
    let f = |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let rows = rows_of(args);
        let nums: Vec<Float64Array> = args[..5].iter().map(|v| to_f64(v, rows)).collect::<Result<_>>()?;
        let pol = cast(&args[5].clone().into_array(rows)?, &DataType::Utf8)?;
        let pol = pol.as_any().downcast_ref::<StringArray>().expect("utf8");
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            let polarity = match pol.is_valid(i).then(|| pol.value(i)) {
                Some("higher_is_better") => crate::stats::Polarity::HigherIsBetter,
                Some("lower_is_better") => crate::stats::Polarity::LowerIsBetter,
                Some("not_applicable") | None => crate::stats::Polarity::NotApplicable,
                Some(other) => {
                    return Err(DataFusionError::Execution(format!(
                        "compare_benchmark: unknown polarity `{other}`"
                    )));
                }
            };
            let v = |k: usize| nums[k].is_valid(i).then(|| nums[k].value(i));
            let c = match (v(0), v(1), v(2)) {
                (Some(b), Some(l), Some(u)) => {
                    let wide = v(3)
                        .zip(v(4))
                        .map(|(l, u)| crate::stats::Interval { lower: l, upper: u });
                    crate::stats::compare(b, crate::stats::Interval { lower: l, upper: u }, wide, polarity)
                }
                _ => crate::stats::Comparison::NotCompared,
            };
            out.push(Some(c.as_str()));
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out))))
    };
    let mut types = vec![DataType::Float64; 5];
    types.push(DataType::Utf8);
    create_udf(
        "compare_benchmark",
        types,
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(f),
    )
}

fn constant(name: &'static str, v: f64) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Float64(Some(v))))),
    )
}

fn quintile_udf() -> ScalarUDF {
    let f = |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let rows = match &args[0] {
            ColumnarValue::Array(a) => a.len(),
            _ => 1,
        };
        let a = cast(&args[0].clone().into_array(rows)?, &DataType::Int64)?;
        let d = a.as_any().downcast_ref::<Int64Array>().expect("cast to i64");
        let out: Int64Array = d.iter().map(|v| v.and_then(crate::seeds::imd_quintile)).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    create_udf(
        "imd_quintile",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(f),
    )
}

/// `v` as days since 1970-01-01 (Date32), one per row.
fn day_numbers(v: &ColumnarValue, rows: usize) -> Result<Date32Array> {
    let a = cast(&v.clone().into_array(rows)?, &DataType::Date32)?;
    Ok(a.as_any().downcast_ref::<Date32Array>().expect("date32").clone())
}

/// A day number as a calendar date (`None` beyond chrono's range).
fn date_of(days: i32) -> Option<chrono::NaiveDate> {
    epoch().checked_add_signed(chrono::Duration::days(days as i64))
}

/// The day numbers chrono's calendar covers (every date SQL can hold is within).
static CALENDAR: std::sync::LazyLock<std::ops::RangeInclusive<i64>> = std::sync::LazyLock::new(|| {
    let day = |d: chrono::NaiveDate| (d - epoch()).num_days();
    day(chrono::NaiveDate::MIN)..=day(chrono::NaiveDate::MAX)
});

fn epoch() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
}

fn rows_of(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            _ => None,
        })
        .unwrap_or(1)
}

/// `add_days(date, n)` and `add_months(date, n)` (calendar months, clamped to the month's end).
/// Days are added to the day number directly; months go through the calendar.
fn shift_udf(name: &'static str, months: bool) -> ScalarUDF {
    let f = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let rows = rows_of(args);
        let d = day_numbers(&args[0], rows)?;
        let n = cast(&args[1].clone().into_array(rows)?, &DataType::Int64)?;
        let n = n.as_any().downcast_ref::<Int64Array>().expect("i64");
        let out: Date32Array = d
            .iter()
            .zip(n.iter())
            .map(|(d, k)| {
                let (d, k) = (d?, k?);
                if !months {
                    // Within chrono's calendar, as add_months (and SQL dates) are.
                    let shifted = (d as i64).checked_add(k)?;
                    return CALENDAR.contains(&shifted).then_some(shifted as i32);
                }
                let d = date_of(d)?;
                let shifted = if k >= 0 {
                    d.checked_add_months(chrono::Months::new(u32::try_from(k).ok()?))
                } else {
                    d.checked_sub_months(chrono::Months::new(u32::try_from(-k).ok()?))
                };
                shifted.map(|s| (s - epoch()).num_days() as i32)
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    create_udf(
        name,
        vec![DataType::Date32, DataType::Int64],
        DataType::Date32,
        Volatility::Immutable,
        Arc::new(f),
    )
}

/// The first and last day numbers of quarter `q` of financial year `fy` (April–March).
fn quarter_days(fy: i32, q: u32) -> Option<std::ops::RangeInclusive<i32>> {
    let (year, month) = if q == 4 { (fy + 1, 1) } else { (fy, 3 * q + 1) };
    let first = chrono::NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = first.checked_add_months(chrono::Months::new(3))?;
    let day = |d: chrono::NaiveDate| (d - epoch()).num_days() as i32;
    Some(day(first)..=day(next) - 1)
}

/// The quarter key of a day number, with the quarter's first and last day
/// numbers (`None` for a quarter that runs past chrono's calendar); `None` for a
/// day beyond that calendar.
fn quarter_of(day: i32) -> Option<(Option<std::ops::RangeInclusive<i32>>, String)> {
    use chrono::Datelike;
    let date = date_of(day)?;
    let fy = if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    };
    let q = ((date.month() + 8) % 12) / 3 + 1;
    let key = format!("{fy}-{:02}-Q{q}", (fy + 1) % 100);
    Some((quarter_days(fy, q), key))
}

/// `fy_quarter(date)`: the financial-year quarter key, e.g. `2024-25-Q1` for May 2024.
fn fy_quarter_udf() -> ScalarUDF {
    let f = |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let rows = rows_of(args);
        let d = day_numbers(&args[0], rows)?;
        // Millions of rows, a handful of quarters, in any order (a view sorted by
        // child has its dates at random): each quarter is formatted once per batch,
        // and a day takes the key of the quarter that holds it, the last one used
        // first, then by binary search over the quarters already seen.
        let mut out = datafusion::arrow::array::StringBuilder::with_capacity(rows, rows * 10);
        let mut seen: Vec<(std::ops::RangeInclusive<i32>, String)> = Vec::new();
        let mut last = usize::MAX;
        for day in d.iter() {
            let Some(day) = day else {
                out.append_null();
                continue;
            };
            let at = match seen.get(last) {
                Some((span, _)) if span.contains(&day) => last,
                _ => seen.partition_point(|(span, _)| *span.end() < day),
            };
            if let Some((span, key)) = seen.get(at)
                && span.contains(&day)
            {
                out.append_value(key);
                last = at;
                continue;
            }
            match quarter_of(day) {
                Some((Some(span), key)) => {
                    out.append_value(&key);
                    seen.insert(at, (span, key));
                    last = at;
                }
                Some((None, key)) => out.append_value(&key),
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    };
    create_udf(
        "fy_quarter",
        vec![DataType::Date32],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(f),
    )
}

/// Register every startwell function with `ctx`.
/// `key128(key)`: a pseudonymous key (64 lower-case hex digits, HMAC-SHA-256) as its
/// first 128 bits, one 16-byte number (`Decimal128(38, 0)`, read as a signed
/// big-endian integer: an opaque value to join, sort and count on, never shown);
/// any other text (the short labels of indicator test fixtures) as the first 128
/// bits of its SHA-256. Joins, sorts and `DISTINCT`s over keys in views hold a fifth
/// of the bytes of the hex text, as a fixed-width number that DataFusion hashes and
/// compares as one value (variable-length bytes took a third longer and twice the
/// memory). Two children share a 128-bit prefix with probability 2^-128 per pair
/// (about 10^-25 among ten million children).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key128 {
    signature: datafusion::logical_expr::Signature,
}

/// Each byte's value as a lower-case hex digit; 0xFF for any other byte.
const HEX: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The first 16 bytes of a 64-digit lower-case hex key; `None` for any other text.
/// One table lookup a digit, no branch a digit (it runs on every key of a view).
fn key_prefix(s: &str) -> Option<[u8; 16]> {
    let b: &[u8; 64] = s.as_bytes().try_into().ok()?;
    let mut out = [0u8; 16];
    let mut bad = 0u8;
    for (i, o) in out.iter_mut().enumerate() {
        let (hi, lo) = (HEX[b[2 * i] as usize], HEX[b[2 * i + 1] as usize]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0F);
    }
    for c in &b[32..] {
        bad |= HEX[*c as usize];
    }
    (bad & 0xF0 == 0).then_some(out)
}

/// The key's value for `key128`: its first 128 bits, or those of its SHA-256 for
/// any other text.
fn key_value(k: &str) -> i128 {
    let bytes = key_prefix(k).unwrap_or_else(|| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(k.as_bytes());
        digest[..16].try_into().expect("a SHA-256 digest has 32 bytes")
    });
    i128::from_be_bytes(bytes)
}

/// Each key of `a` as `key128` gives it: text keys (of any string type) by their
/// value, `key128` numbers (when `numbers`) as they are, nulls as `None`; any
/// other type is an error naming `function`.
fn key_values<'a>(
    a: &'a ArrayRef,
    numbers: bool,
    function: &str,
) -> Result<Box<dyn Iterator<Item = Option<i128>> + 'a>> {
    use datafusion::arrow::array::AsArray;
    Ok(match a.data_type() {
        DataType::Utf8View => Box::new(a.as_string_view().iter().map(|k| k.map(key_value))),
        DataType::Utf8 => Box::new(a.as_string::<i32>().iter().map(|k| k.map(key_value))),
        DataType::LargeUtf8 => Box::new(a.as_string::<i64>().iter().map(|k| k.map(key_value))),
        DataType::Decimal128(_, 0) if numbers => Box::new(
            a.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>()
                .iter(),
        ),
        DataType::Null if numbers => Box::new((0..a.len()).map(|_| None)),
        other => {
            return Err(DataFusionError::Execution(format!(
                "{function}: expects {}, got {other}",
                if numbers {
                    "one child key (text, or key128 of it)"
                } else {
                    "a text key"
                }
            )));
        }
    })
}

/// `key128`'s type: a 16-byte number (values use all 128 bits; the declared
/// precision is the widest there is and is never checked against them).
const KEY128_PRECISION: u8 = 38;

impl datafusion::logical_expr::ScalarUDFImpl for Key128 {
    fn name(&self) -> &str {
        "key128"
    }
    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Decimal128(KEY128_PRECISION, 0))
    }
    fn invoke_with_args(&self, args: datafusion::logical_expr::ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let a = args.args[0].clone().into_array(args.number_rows)?;
        let keys: datafusion::arrow::array::Decimal128Array = key_values(&a, false, "key128")?.collect();
        let out: ArrayRef = Arc::new(keys.with_precision_and_scale(KEY128_PRECISION, 0)?);
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

fn key128_udf() -> ScalarUDF {
    ScalarUDF::from(Key128 {
        signature: datafusion::logical_expr::Signature::uniform(
            1,
            vec![DataType::Utf8View, DataType::Utf8, DataType::LargeUtf8],
            Volatility::Immutable,
        ),
    })
}

/// `in_part(key)`: whether a child's key falls in the part of the key space being
/// computed. A view that calls it is computed in parts (`engine::materialise_views`):
/// once per part, with only that part's children, so its sorts, joins and
/// aggregations hold a part's rows at a time, not the lake's. Outside such a view's
/// passes there is one part and every key is in it.
///
/// The key is a text key (as `key128` reads it) or a `key128` number, and both give
/// the same part for the same child, so a view may filter on either. The part is
/// taken from the key's top 64 bits (the keys are HMAC outputs, so parts are even);
/// a null key is in part 0, so it is counted exactly once.
#[derive(Debug, PartialEq, Eq, Hash)]
struct InPart {
    signature: datafusion::logical_expr::Signature,
    part: usize,
    parts: usize,
}

/// The part (of `parts`) a `key128` value falls in: its top 64 bits scaled to
/// `0..parts`, so consecutive parts are consecutive ranges of keys.
pub fn part_of(key: i128, parts: usize) -> usize {
    let top = ((key >> 64) as u64) ^ (1 << 63);
    ((u128::from(top) * parts as u128) >> 64) as usize
}

/// The part (of `parts`) of each key of `a` (text keys or `key128` numbers, as
/// `in_part` takes them): the part `in_part(key)` is true in. A null key is in part 0.
pub fn parts_of(a: &ArrayRef, parts: usize) -> Result<Vec<usize>> {
    Ok(key_values(a, true, "in_part")?
        .map(|k| k.map_or(0, |k| part_of(k, parts.max(1))))
        .collect())
}

impl datafusion::logical_expr::ScalarUDFImpl for InPart {
    fn name(&self) -> &str {
        "in_part"
    }
    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [
                DataType::Utf8View
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Decimal128(_, 0)
                | DataType::Null,
            ] => Ok(DataType::Boolean),
            other => Err(DataFusionError::Plan(format!(
                "in_part: expects one child key (text, or key128 of it), got {other:?}"
            ))),
        }
    }
    fn invoke_with_args(&self, args: datafusion::logical_expr::ScalarFunctionArgs) -> Result<ColumnarValue> {
        if self.parts <= 1 {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))));
        }
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let a = args.args[0].clone().into_array(args.number_rows)?;
        let out: datafusion::arrow::array::BooleanArray = key_values(&a, true, "in_part")?
            .map(|k| Some(k.map_or(0, |k| part_of(k, self.parts)) == self.part))
            .collect();
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(Arc::new(out)))
        }
    }
}

/// `in_part` for part `part` of `parts` (`0` of `1`: every key).
pub fn in_part_udf(part: usize, parts: usize) -> ScalarUDF {
    ScalarUDF::from(InPart {
        signature: datafusion::logical_expr::Signature::any(1, Volatility::Immutable),
        part,
        parts: parts.max(1),
    })
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(shift_udf("add_days", false));
    ctx.register_udf(shift_udf("add_months", true));
    ctx.register_udf(fy_quarter_udf());
    ctx.register_udf(wilson_udf("wilson_lower", false));
    ctx.register_udf(wilson_udf("wilson_upper", true));
    ctx.register_udf(newcombe_udf("newcombe_lower", false));
    ctx.register_udf(newcombe_udf("newcombe_upper", true));
    ctx.register_udf(compare_udf());
    ctx.register_udf(constant("z95", Z95));
    ctx.register_udf(constant("z998", Z998));
    ctx.register_udf(quintile_udf());
    ctx.register_udf(key128_udf());
    ctx.register_udf(in_part_udf(0, 1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn functions_work_from_sql_and_refuse_bad_input() {
        let ctx = SessionContext::new();
        register(&ctx);
        let b = ctx
            .sql("SELECT wilson_lower(65, 100, z95()) AS l, wilson_upper(65, 100, z95()) AS u, imd_quintile(3) AS q")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let f = |i: usize| {
            b[0].column(i)
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .value(0)
        };
        assert!((f(0) - 55.2544).abs() < 1e-3 && (f(1) - 73.6358).abs() < 1e-3);
        let q = b[0]
            .column(2)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(q, 2);
        let b = ctx
            .sql(
                "SELECT fy_quarter(DATE '2024-05-31') AS a, fy_quarter(DATE '2025-03-31') AS b, \
                  add_months(DATE '2024-01-31', 1) AS c, add_days(DATE '2024-03-01', -1) AS d",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&b)
            .unwrap()
            .to_string();
        assert!(
            text.contains("2024-25-Q1") && text.contains("2024-25-Q4"),
            "{text}"
        );
        assert!(
            text.contains("2024-02-29") && text.contains("2024-02-29"),
            "{text}"
        );
        let b = ctx
            .sql(
                "SELECT newcombe_lower(56, 70, 48, 80, z95()) AS l, newcombe_upper(56, 70, 48, 80, z95()) AS u, \
                 compare_benchmark(50.0, 55.0, 65.0, 52.0, 68.0, 'higher_is_better') AS c",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&b)
            .unwrap()
            .to_string();
        assert!(
            text.contains("5.243") && text.contains("33.387") && text.contains("better_998"),
            "{text}"
        );
        let err = ctx
            .sql("SELECT wilson_lower(5, 3, z95())")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("wilson_lower"), "{err}");
    }

    /// A pseudonym becomes its first 16 bytes, from any text type; labels, upper-case
    /// hex and keys of the wrong length keep their own bytes; nulls stay null.
    #[tokio::test]
    async fn key128_keeps_the_first_128_bits_of_a_key() {
        let key = "00ff10a0b1c2d3e4f5a6b7c8d9eaf0b100000000000000000000000000000000";
        let ctx = SessionContext::new();
        register(&ctx);
        let b = ctx
            .sql(&format!(
                "SELECT key128(arrow_cast(k, 'Utf8View')) AS v, key128(k) AS u \
                 FROM (VALUES ('{key}'), ('K1'), (upper('{key}')), (substr('{key}', 2)), (NULL)) t(k)"
            ))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        use datafusion::arrow::array::AsArray;
        use sha2::Digest;
        let first128 = |b: &[u8]| i128::from_be_bytes(b[..16].try_into().unwrap());
        let prefix = first128(&hex::decode(key).unwrap());
        let hashed = |t: &str| first128(&sha2::Sha256::digest(t.as_bytes()));
        for c in 0..2 {
            let v = b[0]
                .column(c)
                .as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
            assert_eq!(v.value(0), prefix);
            assert_eq!(v.value(1), hashed("K1"));
            assert_eq!(v.value(2), hashed(&key.to_uppercase()));
            assert_eq!(v.value(3), hashed(&key[1..]));
            assert!(v.is_null(4));
        }
    }

    proptest::proptest! {
        /// Exactly the key's first 128 bits, for every key.
        #[test]
        fn key128_is_the_keys_prefix(bytes in proptest::array::uniform32(proptest::num::u8::ANY)) {
            let key = hex::encode(bytes);
            proptest::prop_assert_eq!(key_prefix(&key), Some(<[u8; 16]>::try_from(&bytes[..16]).unwrap()));
            proptest::prop_assert_eq!(key_prefix(&key[1..]), None);
        }
    }

    /// Every key, null included, is in exactly one part of any number of parts, the
    /// same one whether given as text or as its `key128`; one part holds every key.
    #[tokio::test]
    async fn each_key_is_in_exactly_one_part_as_text_and_as_key128() {
        use datafusion::arrow::array::AsArray;
        let keys = "SELECT k FROM (VALUES \
             ('00ff10a0b1c2d3e4f5a6b7c8d9eaf0b100000000000000000000000000000000'), \
             ('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'), \
             ('8000000000000000000000000000000000000000000000000000000000000000'), \
             ('7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'), \
             ('0000000000000000000000000000000000000000000000000000000000000000'), \
             ('K1'), ('m7'), (NULL)) t(k)";
        for parts in [1usize, 2, 3, 4, 7] {
            let mut seen = vec![0u32; 8];
            for part in 0..parts {
                let ctx = SessionContext::new();
                register(&ctx);
                ctx.register_udf(in_part_udf(part, parts));
                let b = ctx
                    .sql(&format!(
                        "SELECT in_part(k) AS t, in_part(arrow_cast(k, 'Utf8View')) AS v, \
                         in_part(key128(k)) AS n FROM ({keys})"
                    ))
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap();
                let (t, v, n) = (
                    b[0].column(0).as_boolean(),
                    b[0].column(1).as_boolean(),
                    b[0].column(2).as_boolean(),
                );
                for (i, s) in seen.iter_mut().enumerate() {
                    assert_eq!(t.value(i), n.value(i), "row {i}, part {part} of {parts}");
                    assert_eq!(t.value(i), v.value(i), "row {i}, part {part} of {parts}");
                    *s += u32::from(t.value(i));
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "{parts} parts: {seen:?}");
        }
    }

    proptest::proptest! {
        /// Parts are consecutive ranges of `key128` order, each key in one of them.
        #[test]
        fn parts_are_ranges_of_keys(a in proptest::num::i128::ANY, b in proptest::num::i128::ANY, parts in 1usize..64) {
            let (lo, hi) = (a.min(b), a.max(b));
            proptest::prop_assert!(part_of(lo, parts) <= part_of(hi, parts));
            proptest::prop_assert!(part_of(hi, parts) < parts);
        }
    }

    /// Every day of seven years, in and out of order, with nulls: each key is the
    /// one the definition gives (the function reuses the last key it formatted).
    #[test]
    fn fy_quarter_matches_its_definition_day_by_day() {
        use chrono::Datelike;
        let start = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
        let mut days: Vec<Option<i32>> = (0..7 * 366)
            .map(|k| Some((start - epoch()).num_days() as i32 + k))
            .collect();
        days.extend([None, Some(0), None]);
        days.extend((0..500).map(|k| Some(((k * 7919) % 2600) + 17000)));
        let input = ColumnarValue::Array(Arc::new(Date32Array::from(days.clone())));
        let out = fy_quarter_udf()
            .invoke_with_args(datafusion::logical_expr::ScalarFunctionArgs {
                args: vec![input],
                arg_fields: vec![Arc::new(datafusion::arrow::datatypes::Field::new(
                    "d",
                    DataType::Date32,
                    true,
                ))],
                number_rows: days.len(),
                return_field: Arc::new(datafusion::arrow::datatypes::Field::new(
                    "q",
                    DataType::Utf8,
                    true,
                )),
                config_options: Arc::new(Default::default()),
            })
            .unwrap()
            .into_array(days.len())
            .unwrap();
        let out = out.as_any().downcast_ref::<StringArray>().unwrap();
        for (i, d) in days.iter().enumerate() {
            let want = d.map(|d| {
                let d = epoch() + chrono::Duration::days(d as i64);
                let fy = if d.month() >= 4 { d.year() } else { d.year() - 1 };
                format!("{fy}-{:02}-Q{}", (fy + 1) % 100, ((d.month() + 8) % 12) / 3 + 1)
            });
            assert_eq!(
                out.is_valid(i).then(|| out.value(i).to_string()),
                want,
                "day {d:?}"
            );
        }
    }
}
