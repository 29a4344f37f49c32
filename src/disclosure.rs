//! Disclosure control for published aggregates, as a configurable policy:
//! primary suppression of small counts (and of everything derived from them), and
//! secondary suppression so no suppressed cell can be recovered by subtraction
//! from published totals or other published cells. An attacker ([`recoverable`])
//! solves the published linear relations exactly and says what it can recover;
//! suppression continues until it recovers nothing.

use serde::Deserialize;

/// The policy (`[disclosure]` in `startwell.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Counts from 1 up to, but not including, this are suppressed.
    #[serde(default = "default_threshold")]
    pub threshold: i64,
    /// Symbol published in place of a suppressed value.
    #[serde(default = "default_symbol")]
    pub symbol: String,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            threshold: default_threshold(),
            symbol: default_symbol(),
        }
    }
}

fn default_threshold() -> i64 {
    6
}
fn default_symbol() -> String {
    "c".into()
}

/// One published row: its counts and whether it is suppressed.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub numerator: i64,
    pub denominator: i64,
    pub suppressed: bool,
}

impl Cell {
    pub fn new(numerator: i64, denominator: i64) -> Self {
        Cell {
            numerator,
            denominator,
            suppressed: false,
        }
    }
}

/// Cells `children` add up to cell `parent` (e.g. Boys + Girls = All).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub parent: usize,
    pub children: Vec<usize>,
}

fn small(v: i64, threshold: i64) -> bool {
    (1..threshold).contains(&v)
}

/// Apply primary then secondary suppression to `cells` in place.
pub fn suppress(cells: &mut [Cell], groups: &[Group], policy: &Policy) {
    for c in cells.iter_mut() {
        let failures = c.denominator - c.numerator;
        if small(c.numerator, policy.threshold)
            || small(c.denominator, policy.threshold)
            || small(failures, policy.threshold)
        {
            c.suppressed = true;
        }
    }
    loop {
        // Secondary: a group with exactly one unknown gives it away.
        let mut changed = true;
        while changed {
            changed = false;
            for g in groups {
                let members: Vec<usize> = std::iter::once(g.parent)
                    .chain(g.children.iter().copied())
                    .collect();
                let unknown = members.iter().filter(|m| cells[**m].suppressed).count();
                if unknown == 1 && suppress_smallest(cells, &g.children) {
                    changed = true;
                }
            }
        }
        // Anything a full linear solve still recovers: suppress a neighbour of it.
        let recovered = recoverable(cells, groups);
        if recovered.is_empty() {
            return;
        }
        let mut any = false;
        for r in recovered {
            for g in groups.iter().filter(|g| g.parent == r || g.children.contains(&r)) {
                if suppress_smallest(cells, &g.children) {
                    any = true;
                    break;
                }
            }
        }
        if !any {
            // Nothing left to hide around them: hide the recovered cells' groups whole.
            for g in groups {
                for m in std::iter::once(g.parent).chain(g.children.iter().copied()) {
                    cells[m].suppressed = true;
                }
            }
            return;
        }
    }
}

/// Suppress the published child with the smallest denominator; false when none is left.
fn suppress_smallest(cells: &mut [Cell], children: &[usize]) -> bool {
    match children
        .iter()
        .filter(|c| !cells[**c].suppressed)
        .min_by_key(|c| (cells[**c].denominator, **c))
    {
        Some(&c) => {
            cells[c].suppressed = true;
            true
        }
        None => false,
    }
}

/// The suppressed cells whose values the published cells determine exactly,
/// through the group sums (a rank test on the linear system of unknowns).
pub fn recoverable(cells: &[Cell], groups: &[Group]) -> Vec<usize> {
    let unknowns: Vec<usize> = (0..cells.len()).filter(|i| cells[*i].suppressed).collect();
    if unknowns.is_empty() {
        return Vec::new();
    }
    let col = |cell: usize| unknowns.iter().position(|u| *u == cell);
    // One equation per group: parent − Σ children = 0, restricted to the unknowns.
    let rows: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| {
            let mut r = vec![0.0; unknowns.len()];
            if let Some(c) = col(g.parent) {
                r[c] += 1.0;
            }
            for ch in &g.children {
                if let Some(c) = col(*ch) {
                    r[c] -= 1.0;
                }
            }
            r
        })
        .filter(|r| r.iter().any(|v| *v != 0.0))
        .collect();
    let base = rank(rows.clone());
    unknowns
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let mut with = rows.clone();
            let mut e = vec![0.0; unknowns.len()];
            e[*i] = 1.0;
            with.push(e);
            rank(with) == base
        })
        .map(|(_, u)| *u)
        .collect()
}

fn rank(mut m: Vec<Vec<f64>>) -> usize {
    let ncols = m.first().map(Vec::len).unwrap_or(0);
    let mut r = 0;
    for c in 0..ncols {
        let Some(p) = (r..m.len()).find(|i| m[*i][c].abs() > 1e-9) else {
            continue;
        };
        m.swap(r, p);
        let pivot = m[r][c];
        for v in &mut m[r][c..] {
            *v /= pivot;
        }
        let pivot_row = m[r].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != r && row[c].abs() > 1e-9 {
                let f = row[c];
                for (v, p) in row[c..].iter_mut().zip(&pivot_row[c..]) {
                    *v -= f * p;
                }
            }
        }
        r += 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> Policy {
        Policy::default()
    }

    /// FSM × sex with both margins and the total:
    /// 0 All, 1 FSM, 2 not FSM, 3 Boys, 4 Girls, 5 FSM boys, 6 FSM girls, 7 non-FSM boys, 8 non-FSM girls.
    fn fsm_sex_groups() -> Vec<Group> {
        let g = |parent: usize, children: &[usize]| Group {
            parent,
            children: children.to_vec(),
        };
        vec![
            g(0, &[1, 2]),
            g(0, &[3, 4]),
            g(0, &[5, 6, 7, 8]),
            g(1, &[5, 6]),
            g(2, &[7, 8]),
            g(3, &[5, 7]),
            g(4, &[6, 8]),
        ]
    }

    #[test]
    fn small_counts_and_their_complements_are_suppressed() {
        let mut cells = vec![
            Cell::new(3, 40),
            Cell::new(0, 40),
            Cell::new(38, 40),
            Cell::new(20, 40),
        ];
        suppress(&mut cells, &[], &policy());
        let s: Vec<bool> = cells.iter().map(|c| c.suppressed).collect();
        // 3 is small; 0 is a real zero; 38 of 40 leaves 2 who did not: small.
        assert_eq!(s, vec![true, false, true, false]);
    }

    #[test]
    fn one_suppressed_child_brings_the_next_smallest() {
        // All = Boys + Girls; Girls is small.
        let mut cells = vec![Cell::new(60, 100), Cell::new(57, 97), Cell::new(3, 3)];
        let groups = vec![Group {
            parent: 0,
            children: vec![1, 2],
        }];
        suppress(&mut cells, &groups, &policy());
        assert!(cells[2].suppressed && cells[1].suppressed && !cells[0].suppressed);
        assert!(recoverable(&cells, &groups).is_empty());
    }

    #[test]
    fn a_two_way_table_with_margins_cannot_be_solved() {
        // FSM × sex with both margins and the total.
        // 0 All, 1 FSM, 2 not FSM, 3 Boys, 4 Girls, 5 FSM boys, 6 FSM girls, 7 non-FSM boys, 8 non-FSM girls
        let mut cells = vec![
            Cell::new(300, 450),
            Cell::new(40, 80),
            Cell::new(260, 370),
            Cell::new(140, 230),
            Cell::new(160, 220),
            Cell::new(4, 40), // small
            Cell::new(36, 40),
            Cell::new(136, 190),
            Cell::new(124, 180),
        ];
        let groups = fsm_sex_groups();
        suppress(&mut cells, &groups, &policy());
        assert!(cells[5].suppressed);
        assert!(recoverable(&cells, &groups).is_empty(), "{cells:?}");
        assert!(!cells[0].suppressed, "the total stays published");
    }

    proptest! {
        /// Whatever the counts, nothing suppressed can be recovered from what is published.
        #[test]
        fn no_suppressed_cell_is_recoverable(
            fb in 0i64..30, fg in 0i64..30, nb in 0i64..60, ng in 0i64..60,
            nfb in 0i64..30, nfg in 0i64..30, nnb in 0i64..60, nng in 0i64..60,
        ) {
            // numerators ≤ denominators
            let d = [fb, fg, nb, ng];
            let x = [nfb.min(fb), nfg.min(fg), nnb.min(nb), nng.min(ng)];
            let cell = |idx: &[usize]| Cell::new(idx.iter().map(|i| x[*i]).sum(), idx.iter().map(|i| d[*i]).sum());
            let mut cells = vec![
                cell(&[0, 1, 2, 3]), cell(&[0, 1]), cell(&[2, 3]), cell(&[0, 2]), cell(&[1, 3]),
                cell(&[0]), cell(&[1]), cell(&[2]), cell(&[3]),
            ];
            let groups = fsm_sex_groups();
            suppress(&mut cells, &groups, &policy());
            prop_assert!(recoverable(&cells, &groups).is_empty());
            for c in &cells {
                if !c.suppressed {
                    prop_assert!(!small(c.numerator, 6) && !small(c.denominator, 6) && !small(c.denominator - c.numerator, 6));
                }
            }
        }
    }
}
