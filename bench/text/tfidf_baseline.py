"""TF-IDF + logistic regression (scikit-learn) on a cohort folder's reports, the baseline for
`oncolens train --modalities text`. Same cohort, same split column, same binary task
(label >= K is positive); C is chosen on the validation split by AUC.

Usage: tfidf_baseline.py COHORT_DIR [K]
"""
import csv, json, os, sys

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

root = sys.argv[1]
k = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rows = list(csv.DictReader(open(os.path.join(root, "labels.csv"))))
text = {}
for site in os.listdir(root):
    d = os.path.join(root, site)
    if not os.path.isdir(d):
        continue
    for case in os.listdir(d):
        p = os.path.join(d, case, "report.txt")
        if os.path.isfile(p):
            text[case] = open(p, encoding="utf-8").read()
split = {s: [r for r in rows if r.get("split") == s and r["case_id"] in text] for s in ("train", "val", "test")}
X = {s: [text[r["case_id"]] for r in v] for s, v in split.items()}
y = {s: [int(int(r["label"]) >= k) for r in v] for s, v in split.items()}
best = None
for c in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0):
    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    clf.fit(vec.fit_transform(X["train"]), y["train"])
    auc = roc_auc_score(y["val"], clf.decision_function(vec.transform(X["val"])))
    if best is None or auc > best[0]:
        best = (auc, c, vec, clf)
auc_val, c, vec, clf = best
test_auc = roc_auc_score(y["test"], clf.decision_function(vec.transform(X["test"])))
print(json.dumps({"tool": "scikit-learn TF-IDF (1-2 grams) + logistic regression", "C": c,
                  "val_auc": auc_val, "test_auc": test_auc,
                  "n": {s: len(v) for s, v in y.items()}}))
