//! Bayesian network against pgmpy 1.1.2 (fixtures/interpret/bn_reference.json).
mod common;
use common::*;
use oncolens_interpret::bayes::*;
use std::collections::BTreeSet;

fn data() -> DiscreteData {
    let (names, cols) = discrete_table();
    DiscreteData::from_columns(&names, &cols).expect("data")
}

fn dag_of(d: &DiscreteData, edges: &serde_json::Value) -> Dag {
    let e: Vec<(&str, &str)> = edges
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| (e[0].as_str().expect("a"), e[1].as_str().expect("b")))
        .collect();
    Dag::from_named_edges(d, &e).expect("dag")
}

/// Skeleton and v-structures: equal iff the DAGs are Markov equivalent.
type Cpdag = (BTreeSet<(usize, usize)>, BTreeSet<(usize, usize, usize)>);

fn cpdag_key(d: &Dag, n: usize) -> Cpdag {
    let skel = d
        .edges()
        .iter()
        .map(|&(a, b)| (a.min(b), a.max(b)))
        .collect();
    let mut v = BTreeSet::new();
    for c in 0..n {
        let ps = d.parents(c);
        for &a in ps {
            for &b in ps {
                if a < b && !d.parents(a).contains(&b) && !d.parents(b).contains(&a) {
                    v.insert((a, c, b));
                }
            }
        }
    }
    (skel, v)
}

#[test]
fn bic_of_given_structures_equals_pgmpy() {
    let d = data();
    let r = json("bn_reference.json");
    for case in r["bic"].as_array().expect("bic") {
        let dag = dag_of(&d, &case["edges"]);
        assert_close(
            d.bic(&dag),
            case["score"].as_f64().expect("s"),
            1e-9,
            &format!("BIC {}", case["edges"]),
        );
    }
}

#[test]
fn hill_climb_matches_pgmpy() {
    let d = data();
    let r = json("bn_reference.json");
    let n = d.names().len();
    for (key, indeg) in [("hill_climb", None), ("hill_climb_indegree1", Some(1))] {
        let learned = hill_climb(
            &d,
            &HillClimbOptions {
                max_indegree: indeg,
                ..HillClimbOptions::default()
            },
        )
        .expect("hc");
        let reference = dag_of(&d, &r[key]["edges"]);
        assert_close(
            d.bic(&learned),
            r[key]["score"].as_f64().expect("s"),
            1e-9,
            key,
        );
        assert_eq!(
            cpdag_key(&learned, n),
            cpdag_key(&reference, n),
            "{key}: not Markov equivalent"
        );
        // With pgmpy's float arithmetic reproduced, even the orientations agree.
        assert_eq!(learned.edges(), reference.edges(), "{key}: edges");
    }
}

#[test]
fn hill_climb_with_forbidden_and_required_edges_matches_pgmpy() {
    let d = data();
    let r = json("bn_reference.json");
    let case = &r["hill_climb_expert"];
    let pairs = |v: &serde_json::Value| -> Vec<(usize, usize)> {
        v.as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                (
                    d.index(e[0].as_str().expect("a")).expect("v"),
                    d.index(e[1].as_str().expect("b")).expect("v"),
                )
            })
            .collect()
    };
    let opts = HillClimbOptions {
        forbidden: pairs(&case["forbidden"]),
        required: pairs(&case["required"]),
        ..HillClimbOptions::default()
    };
    let learned = hill_climb(&d, &opts).expect("hc");
    assert_eq!(learned.edges(), dag_of(&d, &case["edges"]).edges());
    assert_close(
        d.bic(&learned),
        case["score"].as_f64().expect("s"),
        1e-9,
        "expert BIC",
    );
}

fn check_cpds(net: &BayesNet, d: &DiscreteData, reference: &serde_json::Value) {
    for (var, cpd_ref) in reference.as_object().expect("cpds") {
        let v = d.index(var).expect("var");
        let cpd = net.cpd(v);
        let evidence: Vec<usize> = cpd_ref["evidence"]
            .as_array()
            .expect("e")
            .iter()
            .map(|e| d.index(e.as_str().expect("s")).expect("v"))
            .collect();
        let r = d.states(v).len();
        let ref_cards: Vec<usize> = evidence.iter().map(|&e| d.states(e).len()).collect();
        let q: usize = ref_cards.iter().product();
        for j in 0..q {
            // decode pgmpy's column j (first evidence most significant)
            let mut rem = j;
            let mut assign = vec![0; evidence.len()];
            for k in (0..evidence.len()).rev() {
                assign[k] = rem % ref_cards[k];
                rem /= ref_cards[k];
            }
            let mut cfg = 0;
            for &p in &cpd.parents {
                let k = evidence.iter().position(|&e| e == p).expect("same parents");
                cfg = cfg * d.states(p).len() + assign[k];
            }
            for s in 0..r {
                let want = cpd_ref["values"][s][j].as_f64().expect("p");
                assert_close(
                    cpd.table[cfg * r + s],
                    want,
                    1e-12,
                    &format!("P({var}={s} | cfg {j})"),
                );
            }
        }
    }
}

#[test]
fn cpds_and_queries_equal_pgmpy() {
    let d = data();
    let r = json("bn_reference.json");
    let dag = dag_of(&d, &r["structure"]);
    let mle = BayesNet::fit(&d, &dag, Estimator::MaximumLikelihood).expect("mle");
    let bdeu = BayesNet::fit(
        &d,
        &dag,
        Estimator::BDeu {
            equivalent_sample_size: 10.0,
        },
    )
    .expect("bdeu");
    check_cpds(&mle, &d, &r["cpds_mle"]);
    check_cpds(&bdeu, &d, &r["cpds_bdeu"]);
    let k2 = BayesNet::fit(&d, &dag, Estimator::Dirichlet { pseudo_count: 1.0 }).expect("k2");
    check_cpds(&k2, &d, &r["cpds_k2"]);
    for q in r["queries"].as_array().expect("queries") {
        let net = if q["cpds"] == "mle" { &mle } else { &bdeu };
        let ev: Vec<(&str, &str)> = q["evidence"]
            .as_object()
            .expect("ev")
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().expect("s")))
            .collect();
        let ans = net
            .query(q["variable"].as_str().expect("v"), &ev)
            .expect("query");
        let states: Vec<&str> = q["states"]
            .as_array()
            .expect("s")
            .iter()
            .map(|s| s.as_str().expect("s"))
            .collect();
        for ((name, p), (want_name, want)) in
            ans.iter().zip(states.iter().zip(f64s(&q["probabilities"])))
        {
            assert_eq!(name, want_name);
            assert_close(*p, want, 1e-12, &format!("query {q}"));
        }
    }
    let dot = mle.to_dot();
    assert!(dot.contains("\"diagnosis\" -> \"radius\";"), "{dot}");
}

#[test]
fn bad_input_is_named() {
    let names = vec!["a".to_string()];
    assert!(matches!(
        DiscreteData::from_columns(&names, &[vec![]]),
        Err(oncolens_interpret::InterpretError::EmptyTable(_))
    ));
    let e = DiscreteData::from_columns(&names, &[vec!["x".into(), "NaN".into()]]).expect_err("nan");
    assert!(e.to_string().contains("`a` row 1"), "{e}");
    let d = DiscreteData::from_columns(
        &["a".to_string(), "b".to_string()],
        &[vec!["x".into(), "y".into()], vec!["u".into(), "u".into()]],
    )
    .expect("d");
    assert!(matches!(
        Dag::from_named_edges(&d, &[("a", "b"), ("b", "a")]),
        Err(oncolens_interpret::InterpretError::Cycle(_))
    ));
    let net = BayesNet::fit(
        &d,
        &Dag::from_named_edges(&d, &[("a", "b")]).expect("dag"),
        Estimator::MaximumLikelihood,
    )
    .expect("fit");
    assert!(net.query("zzz", &[]).is_err());
    assert!(net.query("a", &[("b", "nope")]).is_err());
    // a constant column is a valid one-state variable
    assert_eq!(
        net.query("b", &[("a", "x")]).expect("q"),
        vec![("u".to_string(), 1.0)]
    );
}
