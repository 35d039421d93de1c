//! The pre-operative FHIR Bundle of one KiTS19 case (see [`crate::kits19`] for the rules):
//! only [`crate::kits19::PREOP_FIELDS`] are read here.

use chrono::{Days, NaiveDate};
use serde_json::Value;

use crate::error::Result;
use crate::fhir_writer::{BundleBuilder, Coding, LOINC, ObsValue, SNOMED, patient};
use crate::kits19::{Entry, NOMINAL_SURGERY_DATE, number_at};

/// Source-field coding system: every value also carries its kits.json field name.
const KITS: &str = "urn:oncolens:kits19";

/// Charlson comorbidities of kits.json → SNOMED CT (None: no code we are sure of; the Condition
/// then carries only the KiTS coding and its text).
/// (kits.json key, SNOMED CT code and display, text).
type Comorbidity = (
    &'static str,
    Option<(&'static str, &'static str)>,
    &'static str,
);

const COMORBIDITIES: &[Comorbidity] = &[
    (
        "myocardial_infarction",
        Some(("22298006", "Myocardial infarction")),
        "Myocardial infarction",
    ),
    (
        "congestive_heart_failure",
        Some(("42343007", "Congestive heart failure")),
        "Congestive heart failure",
    ),
    (
        "peripheral_vascular_disease",
        Some(("400047006", "Peripheral vascular disease")),
        "Peripheral vascular disease",
    ),
    (
        "cerebrovascular_disease",
        Some(("62914000", "Cerebrovascular disease")),
        "Cerebrovascular disease",
    ),
    ("dementia", Some(("52448006", "Dementia")), "Dementia"),
    (
        "copd",
        Some(("13645005", "Chronic obstructive lung disease")),
        "COPD",
    ),
    (
        "connective_tissue_disease",
        Some(("105969002", "Disorder of connective tissue")),
        "Connective tissue disease",
    ),
    (
        "peptic_ulcer_disease",
        Some(("13200003", "Peptic ulcer")),
        "Peptic ulcer disease",
    ),
    (
        "uncomplicated_diabetes_mellitus",
        Some(("73211009", "Diabetes mellitus")),
        "Diabetes mellitus without end-organ damage",
    ),
    (
        "diabetes_mellitus_with_end_organ_damage",
        Some(("74627003", "Diabetic complication")),
        "Diabetes mellitus with end-organ damage",
    ),
    (
        "chronic_kidney_disease",
        Some(("709044004", "Chronic kidney disease")),
        "Chronic kidney disease",
    ),
    (
        "hemiplegia_from_stroke",
        Some(("50582007", "Hemiplegia")),
        "Hemiplegia from stroke",
    ),
    (
        "leukemia",
        Some(("93143009", "Leukemia, disease")),
        "Leukaemia",
    ),
    (
        "malignant_lymphoma",
        Some(("118600007", "Malignant lymphoma")),
        "Malignant lymphoma",
    ),
    // No SNOMED code here on purpose: the generic malignancy codes would be read as the
    // primary tumour by oncolens-records.
    (
        "localized_solid_tumor",
        None,
        "Other localized solid tumour (Charlson)",
    ),
    (
        "metastatic_solid_tumor",
        Some(("128462008", "Secondary malignant neoplastic disease")),
        "Metastatic solid tumour (Charlson)",
    ),
    (
        "mild_liver_disease",
        Some(("235856003", "Disorder of liver")),
        "Mild liver disease",
    ),
    (
        "moderate_to_severe_liver_disease",
        Some(("235856003", "Disorder of liver")),
        "Moderate to severe liver disease",
    ),
    ("aids", Some(("62479008", "AIDS")), "AIDS"),
];

fn date_minus_days(date: &str, days: u64) -> Option<String> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    d.checked_sub_days(Days::new(days))
        .map(|d| d.format("%Y-%m-%d").to_string())
}

fn local(field: &str) -> Coding<'_> {
    Coding {
        system: KITS,
        code: field,
        display: field,
    }
}

/// The pre-operative FHIR Bundle of one case, and warnings about values that could not be coded.
pub(crate) fn preop_bundle(e: &Entry<'_>) -> Result<(Value, Vec<String>)> {
    let mut warnings = Vec::new();
    let when = NOMINAL_SURGERY_DATE;
    let gender = match e.string("gender")? {
        Some(g @ ("male" | "female")) => Some(g),
        Some(other) => {
            warnings.push(format!("{}: gender `{other}` written as unknown", e.id));
            Some("unknown")
        }
        None => None,
    };
    let age = e.number("age_at_nephrectomy")?;
    let birth = match age {
        Some(a) if (0.0..=130.0).contains(&a) && a.fract() == 0.0 => {
            let surgery_year: i32 = NOMINAL_SURGERY_DATE[..4].parse().unwrap_or(2015);
            let year = surgery_year - a as i32;
            Some(format!("{year:04}{}", &NOMINAL_SURGERY_DATE[4..]))
        }
        Some(a) => {
            return Err(e.err(
                "age_at_nephrectomy",
                format!("{a} is not an age in whole years"),
            ));
        }
        None => None,
    };
    let pid = e.id.as_str();
    let mut b = BundleBuilder::new(
        pid,
        patient(pid, gender, birth.as_deref()),
        &format!("{when}T00:00:00Z"),
    );
    b.condition(
        &[Coding {
            system: SNOMED,
            code: "126880001",
            display: "Neoplasm of kidney",
        }],
        "Renal mass (pre-operative)",
        Some(Coding {
            system: SNOMED,
            code: "64033007",
            display: "Kidney structure",
        }),
        "provisional",
        when,
    );
    if let Some(bmi) = e.number("body_mass_index")? {
        b.observation(
            "vital-signs",
            &[
                Coding {
                    system: LOINC,
                    code: "39156-5",
                    display: "Body mass index (BMI) [Ratio]",
                },
                local("body_mass_index"),
            ],
            "Body mass index",
            ObsValue::Quantity {
                value: bmi,
                unit: "kg/m2",
                comparator: None,
            },
            when,
            None,
        );
    }
    if let Some(s) = e.string("smoking_history")? {
        let snomed = match s {
            "never_smoked" => Some(("266919005", "Never smoked tobacco")),
            "previous_smoker" => Some(("8517006", "Ex-smoker")),
            "current_smoker" => Some(("77176002", "Smoker")),
            _ => None,
        };
        let mut answer = vec![Coding {
            system: KITS,
            code: s,
            display: s,
        }];
        match snomed {
            Some((code, display)) => answer.insert(
                0,
                Coding {
                    system: SNOMED,
                    code,
                    display,
                },
            ),
            None => warnings.push(format!(
                "{}: smoking_history `{s}` has no SNOMED CT code; kept as the KiTS value",
                e.id
            )),
        }
        b.observation(
            "social-history",
            &[
                Coding {
                    system: LOINC,
                    code: "72166-2",
                    display: "Tobacco smoking status",
                },
                local("smoking_history"),
            ],
            "Tobacco smoking status",
            ObsValue::Coded(answer, s),
            when,
            None,
        );
    }
    if let Some(p) = e.number("pack_years")? {
        b.observation(
            "social-history",
            &[
                Coding {
                    system: SNOMED,
                    code: "401201003",
                    display: "Cigarette pack-years",
                },
                local("pack_years"),
            ],
            "Cigarette pack-years",
            ObsValue::Quantity {
                value: p,
                unit: "{pack-years}",
                comparator: None,
            },
            when,
            None,
        );
    }
    if let Some(a) = e.number("age_when_quit_smoking")? {
        b.observation(
            "social-history",
            &[local("age_when_quit_smoking")],
            "Age when quit smoking",
            ObsValue::Quantity {
                value: a,
                unit: "a",
                comparator: None,
            },
            when,
            None,
        );
    }
    if let Some(s) = e.string("chewing_tobacco_use")? {
        b.observation(
            "social-history",
            &[local("chewing_tobacco_use")],
            "Chewing tobacco use",
            ObsValue::Coded(
                vec![Coding {
                    system: KITS,
                    code: s,
                    display: s,
                }],
                s,
            ),
            when,
            None,
        );
    }
    if let Some(s) = e.string("alcohol_use")? {
        b.observation(
            "social-history",
            &[
                Coding {
                    system: LOINC,
                    code: "11331-6",
                    display: "History of Alcohol use",
                },
                local("alcohol_use"),
            ],
            "Alcohol use",
            ObsValue::Coded(
                vec![Coding {
                    system: KITS,
                    code: s,
                    display: s,
                }],
                s,
            ),
            when,
            None,
        );
    }
    if let Some(cm) = e.number("radiographic_size")? {
        b.observation(
            "imaging",
            &[
                Coding {
                    system: LOINC,
                    code: "33728-7",
                    display: "Size.maximum dimension in Tumor",
                },
                local("radiographic_size"),
            ],
            "Tumour size on pre-operative CT (largest diameter)",
            ObsValue::Quantity {
                value: cm,
                unit: "cm",
                comparator: None,
            },
            when,
            Some("Radiographic size measured on the pre-operative CT (KiTS19 radiographic_size)"),
        );
    }
    egfr(e, &mut b)?;
    match e.v.get("comorbidities") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                match value {
                    Value::Bool(true) => {}
                    Value::Bool(false) | Value::Null => continue,
                    other => {
                        return Err(e.err(
                            &format!("comorbidities.{key}"),
                            format!("expected true/false, found {other}"),
                        ));
                    }
                }
                let known = COMORBIDITIES.iter().find(|(k, _, _)| k == key);
                let (snomed, text) = match known {
                    Some((_, s, t)) => (*s, *t),
                    None => {
                        warnings.push(format!("{}: comorbidity `{key}` has no SNOMED CT mapping; kept as the KiTS field", e.id));
                        (None, key.as_str())
                    }
                };
                let mut codes = vec![local(key)];
                if let Some((code, display)) = snomed {
                    codes.insert(
                        0,
                        Coding {
                            system: SNOMED,
                            code,
                            display,
                        },
                    );
                }
                b.condition(&codes, text, None, "confirmed", when);
            }
        }
        Some(other) => {
            return Err(e.err(
                "comorbidities",
                format!("expected an object, found {other}"),
            ));
        }
    }
    let bundle = b.build(Some((
        "nominal-dates",
        "Dates are nominal: KiTS19 gives ages and day offsets, not dates; only differences between dates are real",
    )));
    Ok((bundle, warnings))
}

fn egfr(e: &Entry<'_>, b: &mut BundleBuilder) -> Result<()> {
    let Some(obj) = e.v.get("last_preop_egfr").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let field = "last_preop_egfr";
    let (value, comparator) = match obj.get("value") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) if s.starts_with(">=") => {
            let v = s[2..]
                .trim()
                .parse::<f64>()
                .map_err(|_| e.err(&format!("{field}.value"), format!("`{s}` is not a number")))?;
            (v, Some(">="))
        }
        v => {
            let n = number_at(v).map_err(|m| e.err(&format!("{field}.value"), m))?;
            match n {
                Some(n) => (n, None),
                None => return Ok(()),
            }
        }
    };
    let days = number_at(obj.get("days_before_nephrectomy"))
        .map_err(|m| e.err(&format!("{field}.days_before_nephrectomy"), m))?;
    let when = match days {
        Some(d) if d >= 0.0 => date_minus_days(NOMINAL_SURGERY_DATE, d as u64)
            .unwrap_or_else(|| NOMINAL_SURGERY_DATE.to_owned()),
        _ => NOMINAL_SURGERY_DATE.to_owned(),
    };
    let note = days.map(|d| format!("Last pre-operative value, {d} days before nephrectomy"));
    b.observation(
        "laboratory",
        &[
            Coding {
                system: LOINC,
                code: "33914-3",
                display: "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)",
            },
            local(field),
        ],
        "eGFR (last pre-operative)",
        ObsValue::Quantity { value, unit: "mL/min/{1.73_m2}", comparator },
        &when,
        note.as_deref(),
    );
    Ok(())
}
