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

/// The previous publication of the same cells, so that suppression holds across
/// publications: an attacker holding both must recover nothing either.
#[derive(Debug, Clone, Default)]
pub struct Previous {
    /// Its cells: the true counts, and whether each was suppressed.
    pub cells: Vec<Cell>,
    /// Its relations (indices into `cells`).
    pub groups: Vec<Group>,
    /// For each current cell, the previous cell with the same key, if there was one.
    pub same_key: Vec<Option<usize>>,
}

impl Previous {
    /// The previous cell that is the same cell with the same counts: an attacker
    /// holding both publications treats the two as one unknown.
    fn unchanged(&self, cells: &[Cell], i: usize) -> Option<usize> {
        let j = self.same_key.get(i).copied().flatten()?;
        let (a, b) = (&self.cells[j], &cells[i]);
        (a.numerator == b.numerator && a.denominator == b.denominator).then_some(j)
    }
}

/// Apply primary then secondary suppression to `cells` in place.
pub fn suppress(cells: &mut [Cell], groups: &[Group], policy: &Policy) {
    suppress_across(cells, groups, policy, None);
}

/// Apply primary then secondary suppression to `cells` in place, so that no
/// suppressed cell can be recovered from this publication, nor from it together
/// with `previous`. The result is a function of the cells, their order and
/// `previous` only. Cells that were suppressed before and have not changed stay
/// suppressed; cells suppressed before are preferred as complementary cells.
///
/// Returns what an attacker holding both publications could still recover
/// (empty unless the previous publication cannot be protected by hiding more of
/// this one).
pub fn suppress_across(
    cells: &mut [Cell],
    groups: &[Group],
    policy: &Policy,
    previous: Option<&Previous>,
) -> Vec<usize> {
    for c in cells.iter_mut() {
        let failures = c.denominator - c.numerator;
        if small(c.numerator, policy.threshold)
            || small(c.denominator, policy.threshold)
            || small(failures, policy.threshold)
        {
            c.suppressed = true;
        }
    }
    let mut prefer = vec![false; cells.len()];
    if let Some(p) = previous {
        for (i, pref) in prefer.iter_mut().enumerate() {
            let Some(j) = p.same_key.get(i).copied().flatten() else {
                continue;
            };
            if p.cells[j].suppressed {
                *pref = true;
                if p.unchanged(cells, i).is_some() {
                    // Publishing it now would give away what it protected then.
                    cells[i].suppressed = true;
                }
            }
        }
    }
    let all = vec![true; cells.len()];
    loop {
        // Secondary: a group with exactly one unknown gives it away.
        let mut changed = true;
        while changed {
            changed = false;
            for g in groups {
                let unknown = members(g).filter(|m| cells[*m].suppressed).count();
                if unknown == 1 && suppress_smallest(cells, &g.children, &prefer, &all) {
                    changed = true;
                }
            }
        }
        // Anything a full linear solve still recovers: suppress a neighbour of it.
        let recovered = recoverable(cells, groups);
        if !recovered.is_empty() {
            if !hide_neighbours(cells, groups, &recovered, &prefer, &all) && !hide_all(cells, groups, &all) {
                return recovered;
            }
            continue;
        }
        // The same, for an attacker holding the previous publication too.
        let Some(p) = previous else {
            return Vec::new();
        };
        let (merged, merged_groups, hideable) = union(cells, groups, p);
        let recovered = recoverable(&merged, &merged_groups);
        if recovered.is_empty() {
            return Vec::new();
        }
        // Only this publication's cells can still be hidden, and hiding one that the
        // previous publication showed with the same counts hides nothing.
        if !hide_neighbours(cells, &merged_groups, &recovered, &prefer, &hideable)
            && !hide_all(cells, &merged_groups, &hideable)
        {
            return recovered;
        }
    }
}

fn members(g: &Group) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(g.parent).chain(g.children.iter().copied())
}

/// For each recovered cell, suppress one published neighbour (the smallest child
/// of a group it is in); false when there was none to suppress.
fn hide_neighbours(
    cells: &mut [Cell],
    groups: &[Group],
    recovered: &[usize],
    prefer: &[bool],
    hideable: &[bool],
) -> bool {
    let mut any = false;
    for r in recovered {
        for g in groups.iter().filter(|g| members(g).any(|m| m == *r)) {
            if suppress_smallest(cells, &g.children, prefer, hideable) {
                any = true;
                break;
            }
        }
    }
    any
}

/// Nothing left to hide around them: hide every member of every group whole.
fn hide_all(cells: &mut [Cell], groups: &[Group], hideable: &[bool]) -> bool {
    let mut any = false;
    for g in groups {
        for m in members(g) {
            if hideable.get(m).copied().unwrap_or(false) && !cells[m].suppressed {
                cells[m].suppressed = true;
                any = true;
            }
        }
    }
    any
}

/// Suppress the published, hideable child with the smallest denominator
/// (previously suppressed cells first; ties by position); false when none is left.
fn suppress_smallest(cells: &mut [Cell], children: &[usize], prefer: &[bool], hideable: &[bool]) -> bool {
    match children
        .iter()
        .copied()
        .filter(|c| hideable.get(*c).copied().unwrap_or(false) && !cells[*c].suppressed)
        .min_by_key(|c| (!prefer[*c], cells[*c].denominator, *c))
    {
        Some(c) => {
            cells[c].suppressed = true;
            true
        }
        None => false,
    }
}

/// The cells and relations an attacker holding both publications solves: this
/// publication's cells (first, same indices), merged with the previous cell of
/// the same key where the counts are unchanged (known if either publication
/// showed it), then the previous publication's other cells. The third part says
/// which merged cells hiding in this publication would make unknown.
fn union(cells: &[Cell], groups: &[Group], p: &Previous) -> (Vec<Cell>, Vec<Group>, Vec<bool>) {
    let mut merged = cells.to_vec();
    let mut hideable = vec![true; cells.len()];
    let mut at: Vec<Option<usize>> = vec![None; p.cells.len()];
    for i in 0..cells.len() {
        if let Some(j) = p.unchanged(cells, i) {
            at[j] = Some(i);
            merged[i].suppressed = cells[i].suppressed && p.cells[j].suppressed;
            hideable[i] = p.cells[j].suppressed;
        }
    }
    let at: Vec<usize> = at
        .iter()
        .enumerate()
        .map(|(j, a)| {
            a.unwrap_or_else(|| {
                merged.push(p.cells[j].clone());
                hideable.push(false);
                merged.len() - 1
            })
        })
        .collect();
    let mut all_groups = groups.to_vec();
    all_groups.extend(p.groups.iter().map(|g| Group {
        parent: at[g.parent],
        children: g.children.iter().map(|c| at[*c]).collect(),
    }));
    (merged, all_groups, hideable)
}

/// What an attacker holding this publication and `previous` recovers: indices
/// into the union of the two (this publication's cells first, with the same
/// indices). For tests of [`suppress_across`].
pub fn recoverable_across(cells: &[Cell], groups: &[Group], previous: &Previous) -> Vec<usize> {
    let (merged, merged_groups, _) = union(cells, groups, previous);
    recoverable(&merged, &merged_groups)
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

    /// The FSM × sex table from four base cells (FSM boys, FSM girls, non-FSM boys,
    /// non-FSM girls) given as (numerator, denominator).
    fn fsm_sex_cells(base: [(i64, i64); 4]) -> Vec<Cell> {
        let cell = |idx: &[usize]| {
            Cell::new(
                idx.iter().map(|i| base[*i].0).sum(),
                idx.iter().map(|i| base[*i].1).sum(),
            )
        };
        vec![
            cell(&[0, 1, 2, 3]),
            cell(&[0, 1]),
            cell(&[2, 3]),
            cell(&[0, 2]),
            cell(&[1, 3]),
            cell(&[0]),
            cell(&[1]),
            cell(&[2]),
            cell(&[3]),
        ]
    }

    fn previous_of(cells: &[Cell], groups: &[Group]) -> Previous {
        Previous {
            cells: cells.to_vec(),
            groups: groups.to_vec(),
            same_key: (0..cells.len()).map(Some).collect(),
        }
    }

    #[test]
    fn a_complementary_cell_stays_hidden_when_what_it_protected_grows() {
        // First publication: Girls small, so Boys is hidden with it (All = Boys + Girls).
        let groups = vec![Group {
            parent: 0,
            children: vec![1, 2],
        }];
        let mut first = vec![Cell::new(60, 100), Cell::new(57, 97), Cell::new(3, 3)];
        suppress(&mut first, &groups, &policy());
        assert!(first[1].suppressed && first[2].suppressed);
        // A correction adds girls: Girls is no longer small, Boys is unchanged.
        let mut second = vec![Cell::new(70, 117), Cell::new(57, 97), Cell::new(13, 20)];
        let mut alone = second.clone();
        suppress(&mut alone, &groups, &policy());
        assert!(
            !alone[1].suppressed,
            "on its own the second publication hides nothing"
        );
        // ...but publishing Boys (57 of 97) gives away the first Girls cell: 60 − 57 of 100 − 97.
        let prev = previous_of(&first, &groups);
        assert!(!recoverable_across(&alone, &groups, &prev).is_empty());
        let left = suppress_across(&mut second, &groups, &policy(), Some(&prev));
        assert!(left.is_empty());
        assert!(second[1].suppressed, "Boys stays hidden");
        assert!(recoverable_across(&second, &groups, &prev).is_empty());
    }

    #[test]
    fn the_same_cells_again_give_the_same_publication() {
        let groups = fsm_sex_groups();
        let base = [(4, 40), (30, 41), (136, 190), (124, 180)];
        let mut first = fsm_sex_cells(base);
        suppress(&mut first, &groups, &policy());
        let mut again = fsm_sex_cells(base);
        suppress_across(
            &mut again,
            &groups,
            &policy(),
            Some(&previous_of(&first, &groups)),
        );
        assert_eq!(first, again);
    }

    proptest! {
        /// Two consecutive publications of a table whose counts changed a little
        /// (a corrected re-delivery): an attacker holding both recovers nothing,
        /// and identical counts give an identical publication.
        #[test]
        fn nothing_is_recoverable_from_two_publications(
            d in proptest::array::uniform4(0i64..40),
            share in proptest::array::uniform4(0.0f64..=1.0),
            delta in proptest::array::uniform4(-3i64..=3),
            moved in proptest::array::uniform4(-2i64..=2),
        ) {
            let first_base: [(i64, i64); 4] =
                std::array::from_fn(|i| ((d[i] as f64 * share[i]).round() as i64, d[i]));
            let second_base: [(i64, i64); 4] = std::array::from_fn(|i| {
                let n = (first_base[i].1 + delta[i]).max(0);
                let x = (first_base[i].0 + moved[i]).clamp(0, n);
                (x, n)
            });
            let groups = fsm_sex_groups();
            let mut first = fsm_sex_cells(first_base);
            suppress(&mut first, &groups, &policy());
            let prev = previous_of(&first, &groups);
            let mut second = fsm_sex_cells(second_base);
            let left = suppress_across(&mut second, &groups, &policy(), Some(&prev));
            prop_assert!(left.is_empty(), "{left:?}");
            prop_assert!(recoverable(&second, &groups).is_empty());
            prop_assert!(recoverable_across(&second, &groups, &prev).is_empty(), "{first:?} {second:?}");
            if first_base == second_base {
                prop_assert_eq!(&first, &second);
            }
        }
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
