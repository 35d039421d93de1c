//! De-identifying a whole cohort folder, with one pseudonym per patient across every modality,
//! and a byte-level check that no identifier survived.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use oncolens_deid::{
    DeidLog, DeidOptions, PseudonymKey, deidentify_dicom_file, pseudonym, scrub_report,
};
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

use crate::cohort::{CohortError, scan_cohort};

/// Errors of cohort de-identification; each names the case or file.
#[derive(Debug, Error)]
pub enum DeidCohortError {
    #[error(transparent)]
    Cohort(#[from] CohortError),
    #[error("case {case_id}: {message}")]
    Case { case_id: String, message: String },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("output folder {0} is not empty; choose an empty or new folder")]
    NotEmpty(PathBuf),
}

/// What was written (counts only: the summary itself must not identify anyone).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeidCohortSummary {
    pub cases: usize,
    pub dicom_files: usize,
    pub bundles: usize,
    pub reports: usize,
    pub masks: usize,
    pub dicom_log: DeidLog,
    /// Files of the output in which an original identifier was still found (paths only).
    pub files_with_identifiers: Vec<PathBuf>,
    /// How many distinct identifier strings were searched for.
    pub identifiers_checked: usize,
}

/// A birth date as written in DICOM (`YYYYMMDD`) or FHIR (`YYYY-MM-DD`).
fn looks_like_date(s: &str) -> bool {
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit())
}

/// A report's text with the case's identifiers removed ([`scrub_report`] with the names, MRN,
/// accession number and birth date of the case's DICOM and FHIR record and the report's own
/// header fields): what a model may learn from. A tokenizer fitted on raw reports would
/// put patients' names into its vocabulary, which is saved with the model and, in federated
/// learning, shared as document frequencies. If the case's records cannot be read for their
/// identity, the report's own header fields and dates are still removed.
pub fn report_for_learning(entry: &oncolens_core::CohortEntry, text: &str) -> String {
    let identity = identity_of(entry).map(|(_, s)| s).unwrap_or_default();
    let ids: Vec<&str> = identity.iter().map(String::as_str).collect();
    scrub_report(text, &ids)
}

/// Identifying strings of one case's DICOM and FHIR record: MRN, names, birth date, accession
/// number (the report's header fields are added where the report is read).
fn identity_of(
    entry: &oncolens_core::CohortEntry,
) -> Result<(Option<String>, Vec<String>), DeidCohortError> {
    let mut primary = None;
    let mut strings = Vec::new();
    let case_err = |message: String| DeidCohortError::Case {
        case_id: entry.id.clone(),
        message,
    };
    if let Some(dir) = &entry.dicom_dir {
        let first =
            first_file(dir).ok_or_else(|| case_err(format!("{} holds no files", dir.display())))?;
        let obj = dicom_object::open_file(&first)
            .map_err(|e| case_err(format!("{}: {e}", first.display())))?;
        let text = |tag| {
            obj.element(tag)
                .ok()
                .and_then(|e| {
                    e.to_str()
                        .ok()
                        .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
                })
                .filter(|s| !s.is_empty())
        };
        use dicom_dictionary_std::tags;
        primary = text(tags::PATIENT_ID);
        if let Some(name) = text(tags::PATIENT_NAME) {
            strings.extend(
                name.split(['^', ' '])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            strings.push(name);
        }
        strings.extend(text(tags::PATIENT_ID));
        strings.extend(text(tags::ACCESSION_NUMBER));
        strings.extend(text(tags::PATIENT_BIRTH_DATE));
    }
    if let Some(path) = &entry.fhir {
        let read =
            oncolens_records::fhir::read_bundle(path).map_err(|e| case_err(e.to_string()))?;
        primary = primary.or_else(|| read.subject.primary_identifier().map(str::to_owned));
        strings.extend(read.subject.identifiers.iter().map(|(_, v)| v.clone()));
        strings.extend(read.subject.names.iter().cloned());
        strings.extend(read.subject.resource_id.clone());
        if let Some(b) = &read.subject.birth_date {
            strings.push(b.clone());
            strings.push(b.replace('-', ""));
        }
    }
    strings.retain(|s| s.chars().count() >= 3);
    strings.sort();
    strings.dedup();
    Ok((primary, strings))
}

fn first_file(dir: &Path) -> Option<PathBuf> {
    sorted_files(dir).into_iter().next()
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> DeidCohortError + '_ {
    move |e| DeidCohortError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Rewrites the `case_id` column of a CSV through `map` (rows of unknown cases are dropped).
fn remap_csv(
    input: &Path,
    output: &Path,
    map: &HashMap<String, String>,
) -> Result<(), DeidCohortError> {
    let err = |e: csv::Error| DeidCohortError::File {
        path: input.to_path_buf(),
        message: e.to_string(),
    };
    let mut reader = csv::Reader::from_path(input).map_err(err)?;
    let headers = reader.headers().map_err(err)?.clone();
    let col = headers.iter().position(|h| h == "case_id");
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        w.write_record(&headers).map_err(err)?;
        for rec in reader.records() {
            let rec = rec.map_err(err)?;
            let mut fields: Vec<String> = rec.iter().map(str::to_owned).collect();
            if let Some(c) = col {
                match map.get(&fields[c]) {
                    Some(p) => fields[c] = p.clone(),
                    None => continue,
                }
            }
            w.write_record(&fields).map_err(err)?;
        }
        w.flush().map_err(write_err(output))?;
    }
    oncolens_core::fs::write_atomic(output, &buf).map_err(write_err(output))
}

/// Reads a file's bytes, gunzipping gzip streams, for the identifier scan. Gzip is recognised
/// by its magic bytes, not the name: a compressed file under any name is searched inflated.
fn content(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_default();
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        if flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .is_ok()
        {
            return out;
        }
    }
    raw
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                out.extend(all_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Files under `dir` whose bytes (gunzipped for `.gz`) contain any of `needles` as a whole word
/// (not glued to letters or digits), or whose path does. Returns paths only, never the matched value.
pub fn find_identifiers(dir: &Path, needles: &[String]) -> Vec<PathBuf> {
    let needles: Vec<&str> = needles
        .iter()
        .map(String::as_str)
        .filter(|n| n.len() >= 3)
        .collect();
    if needles.is_empty() {
        return Vec::new();
    }
    // One pass per file whatever the number of identifiers (Aho-Corasick, as ripgrep uses).
    let Ok(matcher) = aho_corasick::AhoCorasick::new(&needles) else {
        return Vec::new();
    };
    let found = |hay: &[u8]| {
        matcher
            .find_overlapping_iter(hay)
            .any(|m| oncolens_deid::is_whole_word_at(hay, m.start(), m.len()))
    };
    all_files(dir)
        .into_par_iter()
        .filter(|p| found(&content(p)) || found(p.to_string_lossy().as_bytes()))
        .collect()
}

/// De-identifies the cohort at `input` into `output` (new or empty). Each patient's pseudonym is
/// derived from their MRN (DICOM PatientID or the FHIR identifier) and used for the case folder,
/// DICOM PatientID/PatientName, the FHIR Patient id, `labels.csv` and the omics sample column.
pub fn deidentify_cohort(
    input: &Path,
    output: &Path,
    key: &PseudonymKey,
    on_case: &(dyn Fn() + Sync),
) -> Result<DeidCohortSummary, DeidCohortError> {
    if output.exists()
        && std::fs::read_dir(output)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(DeidCohortError::NotEmpty(output.to_path_buf()));
    }
    let cohort = scan_cohort(input)?;
    type CaseResult = Result<CaseOutcome, DeidCohortError>;
    let results: Vec<CaseResult> = cohort
        .entries
        .par_iter()
        .map(|entry| {
            let r = deidentify_case(entry, output, key);
            on_case();
            r
        })
        .collect();
    let mut summary = DeidCohortSummary::default();
    let mut map = HashMap::new();
    let mut needles = Vec::new();
    let mut case_dates: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for r in results {
        let (case_id, pseudo, s, ids, case_dir) = r?;
        case_dates.push((
            case_dir,
            ids.iter().filter(|n| looks_like_date(n)).cloned().collect(),
        ));
        map.insert(case_id, pseudo);
        summary.cases += 1;
        summary.dicom_files += s.dicom_files;
        summary.bundles += s.bundles;
        summary.reports += s.reports;
        summary.masks += s.masks;
        summary.dicom_log.add(&s.dicom_log);
        needles.extend(ids);
    }
    for name in ["labels.csv", "ground_truth.csv"] {
        let p = input.join(name);
        if p.is_file() {
            remap_csv(&p, &output.join(name), &map)?;
        }
    }
    if let Some(table_path) = &cohort.omics_table {
        let mut table =
            oncolens_records::omics::read_expression_table(table_path).map_err(|e| {
                DeidCohortError::File {
                    path: table_path.clone(),
                    message: e.to_string(),
                }
            })?;
        for s in table.samples.iter_mut() {
            *s = map
                .get(s)
                .cloned()
                .unwrap_or_else(|| pseudonym(key, &format!("sample:{s}")));
        }
        let out = output.join("omics");
        std::fs::create_dir_all(&out).map_err(write_err(&out))?;
        let path = out.join("expression.tsv");
        table
            .write_tsv(&path, oncolens_records::omics::Orientation::GenesBySamples)
            .map_err(write_err(&path))?;
    }
    // Names, MRNs and accession numbers must appear nowhere in the output. Birth dates are
    // searched only in the patient's own folder: in a cohort of hundreds, one patient's shifted
    // birth date is often another patient's real one, which identifies nobody.
    let mut direct: Vec<String> = needles
        .iter()
        .filter(|n| !looks_like_date(n))
        .cloned()
        .collect();
    direct.sort();
    direct.dedup();
    let mut all = needles;
    all.sort();
    all.dedup();
    summary.identifiers_checked = all.len();
    let mut found = find_identifiers(output, &direct);
    let per_case: Vec<Vec<PathBuf>> = case_dates
        .par_iter()
        .map(|(dir, dates)| find_identifiers(dir, dates))
        .collect();
    found.extend(per_case.into_iter().flatten());
    found.sort();
    found.dedup();
    summary.files_with_identifiers = found;
    let path = output.join("deid_summary.json");
    let text = serde_json::to_string_pretty(&summary).map_err(|e| DeidCohortError::File {
        path: path.clone(),
        message: e.to_string(),
    })?;
    oncolens_core::fs::write_atomic(&path, text.as_bytes()).map_err(write_err(&path))?;
    Ok(summary)
}

/// Case id, pseudonym, counts, identifying strings, output folder.
type CaseOutcome = (String, String, DeidCohortSummary, Vec<String>, PathBuf);

fn deidentify_case(
    entry: &oncolens_core::CohortEntry,
    output: &Path,
    key: &PseudonymKey,
) -> Result<CaseOutcome, DeidCohortError> {
    let case_err = |message: String| DeidCohortError::Case {
        case_id: entry.id.clone(),
        message,
    };
    let (primary, mut identity) = identity_of(entry)?;
    let identifier = primary.unwrap_or_else(|| format!("case:{}", entry.id));
    let pseudo = pseudonym(key, &identifier);
    let dir = output.join(&entry.site.0).join(&pseudo);
    std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    let mut s = DeidCohortSummary::default();
    if let Some(ct) = &entry.dicom_dir {
        let out = dir.join("ct");
        std::fs::create_dir_all(&out).map_err(write_err(&out))?;
        let opts = DeidOptions {
            patient_pseudonym: Some(pseudo.clone()),
            patient_identifier: Some(identifier.clone()),
            shift_dates: true,
        };
        for (i, file) in sorted_files(ct).iter().enumerate() {
            let log =
                deidentify_dicom_file(file, &out.join(format!("IM{:04}.dcm", i + 1)), key, &opts)
                    .map_err(|e| case_err(e.to_string()))?;
            s.dicom_log.add(&log);
            s.dicom_files += 1;
        }
    }
    for (mask, name) in [
        (&entry.lesion_mask, "lesion_mask.nii.gz"),
        (&entry.organ_mask, "kidney_mask.nii.gz"),
    ] {
        if let Some(path) = mask {
            // Re-encoding drops any header text (descrip, aux_file) that could carry identity.
            let m = oncolens_nifti::read_label_map(path).map_err(|e| case_err(e.to_string()))?;
            oncolens_nifti::write_label_map(&dir.join(name), &m)
                .map_err(|e| case_err(e.to_string()))?;
            s.masks += 1;
        }
    }
    if let Some(path) = &entry.fhir {
        let text = std::fs::read_to_string(path)
            .map_err(|e| case_err(format!("{}: {e}", path.display())))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| case_err(format!("{}: {e}", path.display())))?;
        let clean = oncolens_deid::deidentify_fhir_bundle(json, key, Some(&identifier))
            .map_err(|e| case_err(e.to_string()))?;
        let out = dir.join("fhir.json");
        let text = serde_json::to_string_pretty(&clean).map_err(|e| case_err(e.to_string()))?;
        oncolens_core::fs::write_atomic(&out, text.as_bytes()).map_err(write_err(&out))?;
        s.bundles += 1;
    }
    if let Some(path) = &entry.report {
        let report =
            oncolens_records::report::read_report(path).map_err(|e| case_err(e.to_string()))?;
        let ids: Vec<&str> = identity.iter().map(String::as_str).collect();
        let out = dir.join("report.txt");
        oncolens_core::fs::write_atomic(&out, scrub_report(&report.text, &ids).as_bytes())
            .map_err(write_err(&out))?;
        // What the report says about its patient (the only identity a case has when it comes
        // without CT and clinical record; `scrub_report` removed it): the leak scan looks for
        // it in every output file too.
        identity.extend(oncolens_deid::header_identifiers(&report.text));
        identity.retain(|s| s.chars().count() >= 3);
        identity.sort();
        identity.dedup();
        s.reports += 1;
    }
    Ok((entry.id.clone(), pseudo, s, identity, dir))
}

#[cfg(test)]
mod date_tests {
    use super::looks_like_date;

    #[test]
    fn birth_dates_are_recognised_in_both_spellings() {
        assert!(looks_like_date("19590727"));
        assert!(looks_like_date("1959-07-27"));
        assert!(!looks_like_date("SYN6763741"));
        assert!(!looks_like_date("Jansen"));
        assert!(!looks_like_date("1959072"));
    }
}

#[cfg(test)]
mod scan_tests {
    use super::find_identifiers;
    use std::io::Write;

    /// An identifier inside a gzip stream is found whatever the file is called.
    #[test]
    fn identifiers_in_gzip_streams_are_found_under_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"patient Jansen-Visser, mrn SYN6763741")
            .unwrap();
        let bytes = gz.finish().unwrap();
        for name in ["a.nii.gz", "b.nii", "c.bin"] {
            std::fs::write(dir.path().join(name), &bytes).unwrap();
        }
        std::fs::write(dir.path().join("clean.txt"), b"nothing here").unwrap();
        let mut hits = find_identifiers(dir.path(), &["SYN6763741".to_owned()]);
        hits.sort();
        let names: Vec<String> = hits
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.nii.gz", "b.nii", "c.bin"]);
    }
}
