//! Scoring and analysis on the shipped quantities example set (101 real
//! sentences from quantulum3) with the fixture runs of `common`.

mod common;

use cambrian_eval::analysis::{AnalysisSettings, FailureKind, Outcome, Verdict, analyse};
use cambrian_eval::gate::Gate;
use cambrian_eval::scorer::{Scorer, ScorerSpec};
use cambrian_eval::stats;

fn scorer() -> Scorer {
    Scorer::new(ScorerSpec::parse("fields:value=number,unit=text").unwrap()).unwrap()
}

/// The three-model example runs over the quantities set, analysed with
/// `resamples` bootstrap resamples.
fn three_models_report(resamples: u32) -> cambrian_eval::analysis::Report {
    let items = common::quantities();
    let runs = common::three_model_runs(&items);
    let settings = AnalysisSettings {
        bootstrap_resamples: resamples,
        ..Default::default()
    };
    analyse(&items, &runs, &common::labels(), &scorer(), &settings)
}

#[test]
fn example_set_loads() {
    let items = common::quantities();
    assert_eq!(items.len(), 101);
    let records: usize = items
        .iter()
        .map(|i| i.expected.as_array().unwrap().len())
        .sum();
    let empty = items
        .iter()
        .filter(|i| i.expected.as_array().unwrap().is_empty())
        .count();
    assert_eq!(empty, 8);
    // 59×1 + 21×2 + 9×3 + 1×4 + 2×5 + 1×6 quantities in the source file.
    assert_eq!(records, 59 + 42 + 27 + 4 + 10 + 6);
}

#[test]
fn counts_accuracy_failures_and_fields() {
    let items = common::quantities();
    let runs = common::three_model_runs(&items);
    let settings = AnalysisSettings {
        bootstrap_resamples: 2000,
        ..Default::default()
    };
    let rep = analyse(&items, &runs, &common::labels(), &scorer(), &settings);
    let n = items.len() as u64;
    let nrec = |i: usize| items[i].expected.as_array().unwrap().len() as u64;
    let records: u64 = (0..items.len()).map(nrec).sum();

    // oracle: everything right.
    let o = rep.model("oracle").unwrap();
    assert_eq!((o.n, o.correct, o.failed), (n, n, 0));
    assert_eq!(o.accuracy.lower, stats::wilson(n, n, stats::Z95).0);
    let unit = o.fields.iter().find(|f| f.field == "unit").unwrap();
    assert_eq!((unit.tp, unit.fp, unit.fn_), (records, 0, 0));

    // sloppy: refusals at i%10==3; wrong units at i%4==0 unless no record.
    let refusals = (0..items.len()).filter(|i| i % 10 == 3).count() as u64;
    let wrong = (0..items.len())
        .filter(|&i| i % 10 != 3 && i % 4 == 0 && nrec(i) > 0)
        .count() as u64;
    let s = rep.model("sloppy").unwrap();
    assert_eq!(
        s.failures.get(&FailureKind::Refusal).copied(),
        Some(refusals)
    );
    assert_eq!(s.wrong, wrong);
    assert_eq!(s.correct, n - refusals - wrong);
    assert_eq!(
        s.accuracy,
        stats::Proportion::wilson95(n - refusals - wrong, n)
    );
    assert_eq!(
        s.answered_accuracy,
        stats::Proportion::wilson95(n - refusals - wrong, n - refusals)
    );
    // Unit field: wrong-unit records are a fp and a fn each; refusals miss every record.
    let unit_wrong: u64 = (0..items.len())
        .filter(|&i| i % 10 != 3 && i % 4 == 0)
        .map(nrec)
        .sum();
    let refused_recs: u64 = (0..items.len()).filter(|i| i % 10 == 3).map(nrec).sum();
    let su = s.fields.iter().find(|f| f.field == "unit").unwrap();
    assert_eq!(su.fp, unit_wrong);
    assert_eq!(su.fn_, unit_wrong + refused_recs);
    assert_eq!(su.tp, records - unit_wrong - refused_recs);
    let sv = s.fields.iter().find(|f| f.field == "value").unwrap();
    assert_eq!(
        (sv.tp, sv.fp, sv.fn_),
        (records - refused_recs, 0, refused_recs)
    );

    // broken: transport errors at i%5==0; truncation at i%7==1 (not also i%5==0).
    let transport = (0..items.len()).filter(|i| i % 5 == 0).count() as u64;
    let truncated = (0..items.len())
        .filter(|i| i % 5 != 0 && i % 7 == 1)
        .count() as u64;
    let b = rep.model("broken").unwrap();
    assert_eq!(
        b.failures.get(&FailureKind::Transport).copied(),
        Some(transport)
    );
    assert_eq!(
        b.failures.get(&FailureKind::Truncated).copied(),
        Some(truncated)
    );
    assert_eq!(b.failed, transport + truncated);
    assert_eq!(b.wrong, 0);
    assert_eq!(b.answered_accuracy.value, 1.0);
    assert_eq!(b.latency.n, n - transport);

    // Pairs: 3 pairs, Holm-adjusted, oracle beats broken clearly.
    assert_eq!(rep.pairs.len(), 3);
    let ob = rep
        .pairs
        .iter()
        .find(|p| p.a == "oracle" && p.b == "broken")
        .unwrap();
    assert_eq!((ob.a_only, ob.b_only), (transport + truncated, 0));
    assert_eq!(ob.p_value, stats::mcnemar_exact(transport + truncated, 0));
    assert_eq!(ob.verdict, Verdict::ABetter);
    let ps: Vec<f64> = rep.pairs.iter().map(|p| p.p_value).collect();
    let holm = stats::holm(&ps);
    for (p, h) in rep.pairs.iter().zip(holm) {
        assert_eq!(p.p_holm, h);
    }

    // Pareto: accuracy vs p50 latency; broken (slower than sloppy, less accurate than oracle)…
    let front: Vec<&str> = rep
        .pareto
        .entries
        .iter()
        .filter(|e| e.on_front)
        .map(|e| e.model.as_str())
        .collect();
    assert!(
        front.contains(&"oracle") && front.contains(&"sloppy"),
        "{:?}",
        rep.pareto
    );

    // Items: exactly one per (model, item), in item order.
    assert_eq!(rep.items.len(), 3 * items.len());
    assert_eq!(
        rep.items
            .iter()
            .filter(|i| i.outcome == Outcome::Correct)
            .count() as u64,
        o.correct + s.correct + b.correct
    );
}

#[test]
fn gates_on_the_example() {
    let rep = three_models_report(500);
    let pass = Gate::parse("oracle:accuracy.lower >= 0.9 and oracle:failure_rate == 0")
        .unwrap()
        .evaluate(&rep)
        .unwrap();
    assert!(pass.passed, "{pass:?}");
    let fail = Gate::parse("accuracy.lower >= 0.8")
        .unwrap()
        .evaluate(&rep)
        .unwrap();
    assert!(!fail.passed);
    assert_eq!(
        fail.checks.iter().filter(|c| !c.passed).count(),
        2,
        "{fail:?}"
    );
    let unmeasured = Gate::parse("cost_per_1k <= 1")
        .unwrap()
        .evaluate(&rep)
        .unwrap();
    assert!(!unmeasured.passed && unmeasured.checks.iter().all(|c| c.value.is_none()));
    assert!(
        Gate::parse("nobody:accuracy >= 0.1")
            .unwrap()
            .evaluate(&rep)
            .is_err()
    );
}

#[test]
fn csv_has_one_row_per_run() {
    let rep = three_models_report(100);
    let mut buf = Vec::new();
    cambrian_eval::report::write_csv(&rep, &mut buf).unwrap();
    let mut rdr = csv::Reader::from_reader(buf.as_slice());
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        cambrian_eval::report::CSV_HEADER.to_vec()
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 303);
    let refusal_rows = rows.iter().filter(|r| &r[3] == "refusal").count();
    assert_eq!(refusal_rows, (0..101).filter(|i| i % 10 == 3).count());
    let recs = cambrian_eval::report::json_records(&rep, None, true);
    assert!(
        recs.iter()
            .all(|r| r.get("type").and_then(|t| t.as_str()).is_some())
    );
    assert_eq!(recs.iter().filter(|r| r["type"] == "item").count(), 303);
    assert_eq!(recs.iter().filter(|r| r["type"] == "model").count(), 3);
    assert_eq!(recs.iter().filter(|r| r["type"] == "pair").count(), 3);
}
