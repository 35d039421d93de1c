//! Association rules and discretisation against mlxtend 0.25.0 / numpy 2.4.6.
mod common;
use common::*;
use oncolens_interpret::rules::*;
use std::collections::HashMap;

#[test]
fn rules_equal_mlxtend() {
    let (names, cols) = discrete_table();
    let t = Transactions::from_categorical(&names, &cols).expect("transactions");
    let r = json("rules_reference.json");
    for case in r["cases"].as_array().expect("cases") {
        let ms = case["min_support"].as_f64().expect("ms");
        let sets = frequent_itemsets(&t, ms, None).expect("itemsets");
        let key = |v: &[usize]| {
            let mut k: Vec<&str> = v.iter().map(|&i| t.items()[i].as_str()).collect();
            k.sort();
            k.join("|")
        };
        let ours: HashMap<String, f64> = sets.iter().map(|s| (key(&s.items), s.support)).collect();
        let refs = case["itemsets"].as_array().expect("itemsets");
        assert_eq!(ours.len(), refs.len(), "itemset count at min_support {ms}");
        for s in refs {
            let k: Vec<&str> = s["items"]
                .as_array()
                .expect("a")
                .iter()
                .map(|v| v.as_str().expect("s"))
                .collect();
            let got = ours
                .get(&k.join("|"))
                .unwrap_or_else(|| panic!("missing itemset {k:?}"));
            assert_eq!(
                *got,
                s["support"].as_f64().expect("sup"),
                "support of {k:?}"
            );
        }
        let metric = match case["metric"].as_str().expect("m") {
            "confidence" => RuleMetric::Confidence,
            "lift" => RuleMetric::Lift,
            m => panic!("metric {m}"),
        };
        let rules = association_rules(
            &sets,
            t.len(),
            metric,
            case["min_threshold"].as_f64().expect("thr"),
        )
        .expect("rules");
        let by_key: HashMap<(String, String), &Rule> = rules
            .iter()
            .map(|r| ((key(&r.antecedent), key(&r.consequent)), r))
            .collect();
        let rrefs = case["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), rrefs.len(), "rule count");
        for rr in rrefs {
            let a: Vec<&str> = rr["antecedent"]
                .as_array()
                .expect("a")
                .iter()
                .map(|v| v.as_str().expect("s"))
                .collect();
            let c: Vec<&str> = rr["consequent"]
                .as_array()
                .expect("a")
                .iter()
                .map(|v| v.as_str().expect("s"))
                .collect();
            let rule = by_key
                .get(&(a.join("|"), c.join("|")))
                .unwrap_or_else(|| panic!("missing rule {a:?} => {c:?}"));
            let ours = [
                ("antecedent support", rule.antecedent_support),
                ("consequent support", rule.consequent_support),
                ("support", rule.support),
                ("confidence", rule.confidence),
                ("lift", rule.lift),
                ("representativity", rule.representativity),
                ("leverage", rule.leverage),
                ("conviction", rule.conviction),
                ("zhangs_metric", rule.zhangs_metric),
                ("jaccard", rule.jaccard),
                ("certainty", rule.certainty),
                ("kulczynski", rule.kulczynski),
            ];
            for (m, v) in ours {
                match rr[m].as_f64() {
                    Some(want) => assert_close(v, want, 1e-12, &format!("{m} of {a:?} => {c:?}")),
                    None => assert!(v.is_infinite(), "{m} of {a:?} => {c:?} should be inf"),
                }
            }
        }
        let mut buf = Vec::new();
        write_rules_csv(&rules, t.items(), &mut buf).expect("csv");
        let text = String::from_utf8(buf).expect("utf8");
        assert!(text.starts_with("antecedent,consequent,support,confidence,lift,"));
        assert_eq!(text.lines().count(), rules.len() + 1);
    }
}

#[test]
fn discretise_bad_input() {
    assert!(matches!(
        quantile_edges("age", &[], 3),
        Err(oncolens_interpret::InterpretError::EmptyTable(_))
    ));
    assert!(matches!(
        quantile_edges("age", &[5.0, 5.0], 3),
        Err(oncolens_interpret::InterpretError::ConstantColumn { .. })
    ));
    let e = quantile_edges("age", &[1.0, f64::NAN], 3).expect_err("nan");
    assert!(
        e.to_string().contains("age") && e.to_string().contains("row 1"),
        "{e}"
    );
    let lab = discretise(
        "age",
        &[61.0, 62.0, 80.0],
        Some(&[0.0, 62.0, 75.0, 100.0]),
        0,
    )
    .expect("bins");
    assert_eq!(
        lab,
        ["age=[0.0,62.0)", "age=[62.0,75.0)", "age=[75.0,100.0]"]
    );
    assert!(
        frequent_itemsets(
            &Transactions::from_onehot(vec!["a".into()], &[vec![true]]).expect("t"),
            0.0,
            None
        )
        .is_err()
    );
    assert!(Transactions::from_onehot(vec!["a".into()], &[vec![]]).is_err());
}
