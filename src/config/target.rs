//! `[[target]]` entries of `startwell.toml`: what the strategy promised, checked
//! against the catalogue and evaluated by `indicators::targets`.

use serde::Deserialize;

/// One `[[target]]` of `startwell.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// A short name (default: the indicator id, and the breakdown value if any).
    #[serde(default)]
    pub name: Option<String>,
    /// The indicator's id in the catalogue.
    pub indicator: String,
    /// A breakdown row instead of the council's `all` row: both or neither.
    #[serde(default)]
    pub breakdown: Option<String>,
    #[serde(default)]
    pub breakdown_value: Option<String>,
    /// The period the change is measured from, as published (`2023/24`).
    pub baseline: String,
    /// The period the target is for.
    pub by: String,
    pub aim: Aim,
    /// With `aim = "value"`: the value to reach by `by`, in the indicator's unit.
    #[serde(default)]
    pub value: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Aim {
    /// A gap closer to zero.
    Narrow,
    /// A lower value.
    Reduce,
    /// A higher value.
    Increase,
    /// Reach `value`.
    Value,
    /// At or better than England's value, by the indicator's polarity.
    Benchmark,
}

impl Aim {
    pub fn as_str(self) -> &'static str {
        match self {
            Aim::Narrow => "narrow",
            Aim::Reduce => "reduce",
            Aim::Increase => "increase",
            Aim::Value => "value",
            Aim::Benchmark => "benchmark",
        }
    }
}

impl TargetSpec {
    /// The target's name in outputs and messages.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| match &self.breakdown_value {
            Some(v) => format!("{} ({v})", self.indicator),
            None => self.indicator.clone(),
        })
    }

    /// The published `(breakdown, breakdown_value)` of the row the target is on.
    pub fn breakdown(&self) -> (&str, &str) {
        (
            self.breakdown.as_deref().unwrap_or("all"),
            self.breakdown_value.as_deref().unwrap_or("All"),
        )
    }
}
