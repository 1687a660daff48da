//! "Did you mean": the known name closest to a misspelt one.

/// The name of `known` closest to `wrong`, when it is close enough to be
/// the one meant: at most a third of its letters wrong (a transposition
/// counts as one), so that `datadgo` suggests `datadog` but `x` suggests
/// nothing.
pub fn closest<'a>(wrong: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = wrong.chars().count().max(3) / 3;
    known
        .into_iter()
        .map(|name| (edit_distance(wrong, name), name))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, name)| name)
}

/// Optimal string alignment distance: insertions, deletions,
/// substitutions and transpositions of neighbours, each costing one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKENDS: [&str; 3] = ["datadog", "grafana-cloud", "jaeger"];

    #[test]
    fn typos_find_the_backend_meant() {
        assert_eq!(closest("datadgo", BACKENDS), Some("datadog"));
        assert_eq!(closest("jeager", BACKENDS), Some("jaeger"));
        assert_eq!(closest("grafana_cloud", BACKENDS), Some("grafana-cloud"));
        assert_eq!(closest("grafana", BACKENDS), None);
        assert_eq!(closest("x", BACKENDS), None);
        assert_eq!(closest("zipkin", BACKENDS), None);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
