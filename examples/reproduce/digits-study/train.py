"""A small study on scikit-learn's digits: does a hidden layer beat a linear model?

    python train.py --seed 0 --out results/ [--model mlp|logistic] [--train-size N]

Writes results/metrics.json with test accuracy and macro-F1.
"""

import argparse
import json
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--model", choices=["mlp", "logistic"], default="mlp")
parser.add_argument("--train-size", type=int, default=None)
args = parser.parse_args()

digits = load_digits()
X, y = digits.data / 16.0, digits.target
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=args.seed,
                                                    stratify=y)
if args.train_size:
    X_train, y_train = X_train[: args.train_size], y_train[: args.train_size]
if args.model == "mlp":
    model = MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=args.seed)
else:
    model = LogisticRegression(max_iter=200, C=0.05)
model.fit(X_train, y_train)
predicted = model.predict(X_test)
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "metrics.json").write_text(json.dumps({
    "test_acc": 100 * accuracy_score(y_test, predicted),
    "macro_f1": 100 * f1_score(y_test, predicted, average="macro"),
}))
