#!/usr/bin/python3
"""Reference results for the experiment statistics engine (worker/experiments/), from SciPy and
statsmodels, written to test/experiments/oracle-cases.json; test/experiments/oracle.test.ts
checks the TypeScript engine against them within stated tolerances. .ci/run regenerates the file
before the suite, so the comparison is against the installed reference libraries every time.

Every case starts from unit-level data drawn with a fixed seed, so the file is reproducible; the
TypeScript side sees only the sufficient statistics (sums per arm) the measurement side keeps.

    /usr/bin/python3 scripts/stats-oracle.py            # (re)write the case file
    /usr/bin/python3 scripts/stats-oracle.py --stdout   # print it instead

Needs python3-scipy and python3-statsmodels (Debian), or the same from pip.
"""
import json
import math
import os
import sys

import numpy as np
import scipy
import statsmodels
from scipy import integrate, special, stats
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

SEED = 20261203
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "experiments", "oracle-cases.json")
rng = np.random.default_rng(SEED)


def f(x):
    """A plain float for JSON (numpy scalars are not serialisable)."""
    return float(x)


def sums(x, den=None, cov=None):
    """The sufficient statistics the measurement side keeps for one arm (worker/experiments/types.ts)."""
    out = {"sum": f(np.sum(x)), "sumSq": f(np.sum(x * x))}
    if den is not None:
        out.update(denSum=f(np.sum(den)), denSumSq=f(np.sum(den * den)), crossSum=f(np.sum(x * den)))
    if cov is not None:
        out.update(covSum=f(np.sum(cov)), covSumSq=f(np.sum(cov * cov)), covCross=f(np.sum(x * cov)))
    return out


def draw(kind, n, level):
    if kind == "binary":
        return (rng.random(n) < level).astype(float)
    if kind == "count":
        return rng.poisson(level, n).astype(float)
    if kind == "revenue":
        # Most units buy nothing; buyers spend a lognormal amount.
        buys = rng.random(n) < 0.08
        return np.where(buys, rng.lognormal(math.log(level), 0.8, n), 0.0)
    return rng.normal(level, 3.0, n)


def numerics():
    rows = []
    for t, df in [(2.1, 3), (-1.5, 10.5), (4.0, 1e5), (0.3, 1e7), (8.0, 2.5), (2.0, 1e9), (0.01, 1.0), (35.0, 4.0)]:
        rows.append({"fn": "studentTSf", "args": [t, df], "value": f(stats.t.sf(t, df))})
    for p, df in [(0.975, 3), (0.975, 1e5), (0.9995, 7.3), (0.9875, 41.7), (0.6, 1.5), (0.999999, 12)]:
        rows.append({"fn": "studentTQuantile", "args": [p, df], "value": f(stats.t.ppf(p, df))})
    for p in [1e-12, 1e-5, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.9999, 1 - 1e-10]:
        rows.append({"fn": "normalQuantile", "args": [p], "value": f(stats.norm.ppf(p))})
    for x in [-30.0, -8.0, -1.96, -0.1, 0.0, 1.2, 5.0, 9.0]:
        rows.append({"fn": "normalCdf", "args": [x], "value": f(stats.norm.cdf(x))})
    for x, k in [(3.2, 1), (20.0, 4), (100.0, 19), (0.5, 2), (1e-4, 3), (250.0, 200), (12.0, 12)]:
        rows.append({"fn": "chiSquareSf", "args": [x, k], "value": f(stats.chi2.sf(x, k))})
    for x in [0.5, 1.0, 3.7, 10.0, 100.0, 1e6]:
        rows.append({"fn": "logGamma", "args": [x], "value": f(special.gammaln(x))})
    for a, b, x in [(2.0, 3.0, 0.4), (0.5, 0.5, 0.9), (50.0, 0.5, 0.97), (5e5, 0.5, 0.999999), (1.5, 20.0, 0.01)]:
        rows.append({"fn": "betaIncomplete", "args": [a, b, x], "value": f(special.betainc(a, b, x))})
    return rows


def welch_cases():
    """Two arms: Welch's test from statsmodels (t, p, df, interval), relative effect by the delta method."""
    cases = []
    plans = [
        ("binary", 20, 0.1, 0.2),
        ("binary", 2000, 0.05, 0.055),
        ("binary", 50000, 0.031, 0.033),
        ("count", 300, 1.2, 1.3),
        ("revenue", 5000, 40.0, 44.0),
        ("revenue", 800, 25.0, 25.0),
        ("normal", 12, 10.0, 12.0),
        ("normal", 10000, 10.0, 10.05),
    ]
    for kind, n, a_level, b_level in plans:
        n_b = int(n * 1.1) + 3
        a = draw(kind, n, a_level)
        b = draw(kind, n_b, b_level)
        cm = CompareMeans(DescrStatsW(b), DescrStatsW(a))
        t, p, df = cm.ttest_ind(usevar="unequal")
        lo, hi = cm.tconfint_diff(alpha=0.05, usevar="unequal")
        ma, mb = a.mean(), b.mean()
        va, vb = a.var(ddof=1), b.var(ddof=1)
        rel_var = vb / (n_b * ma**2) + mb**2 * va / (n * ma**4)
        cases.append(
            {
                "name": f"{kind} n={n} {a_level} vs {b_level}",
                "kind": "binary" if kind == "binary" else ("count" if kind == "count" else "revenue"),
                "arms": {"a": {"units": n, "sums": sums(a)}, "b": {"units": n_b, "sums": sums(b)}},
                "expected": {
                    "estimate": f(mb - ma),
                    "stdError": f(math.sqrt(va / n + vb / n_b)),
                    "t": f(t),
                    "pValue": f(p),
                    "df": f(df),
                    "interval": [f(lo), f(hi)],
                    "relative": f(mb / ma - 1),
                    "relativeStdError": f(math.sqrt(rel_var)),
                },
            }
        )
    return cases


def ratio_cases():
    """Ratio metrics (e.g. revenue per order): delta-method variance from unit-level data."""
    cases = []
    for n_a, n_b, lift in [(400, 420, 0.0), (6000, 6100, 0.05)]:
        arms = {}
        expect = {}
        for arm, n, scale in [("a", n_a, 1.0), ("b", n_b, 1.0 + lift)]:
            den = rng.poisson(1.5, n).astype(float)
            num = np.array([rng.gamma(2.0, 20.0 * scale, int(k)).sum() for k in den])
            arms[arm] = {"units": n, "sums": sums(num, den=den)}
            r = num.sum() / den.sum()
            cov = np.cov(num, den, ddof=1)
            var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / den.mean() ** 2
            expect[arm] = {"mean": f(r), "variance": f(var)}
        cases.append({"name": f"ratio {n_a}/{n_b} lift {lift}", "arms": arms, "expected": expect})
    return cases


def cuped_cases():
    """CUPED: θ and the adjusted effects from OLS y ~ arm + c; the adjusted test from statsmodels."""
    cases = []
    for n, arms_n, rho in [(3000, 2, 0.7), (500, 3, 0.4)]:
        names = [chr(ord("a") + i) for i in range(arms_n)]
        ys, cs, groups = [], [], []
        for i, arm in enumerate(names):
            m = n + 17 * i
            c = rng.gamma(2.0, 10.0, m)
            y = 5 + rho * c + rng.normal(0, 8, m) + (1.5 * i)
            ys.append(y)
            cs.append(c)
            groups.append(np.full(m, i))
        y_all = np.concatenate(ys)
        c_all = np.concatenate(cs)
        g_all = np.concatenate(groups)
        design = np.column_stack([np.ones_like(y_all)] + [(g_all == i).astype(float) for i in range(1, arms_n)] + [c_all])
        fit = OLS(y_all, design).fit()
        theta = fit.params[-1]
        grand = c_all.mean()
        adjusted = [y - theta * (c - grand) for y, c in zip(ys, cs)]
        effects = {}
        for i in range(1, arms_n):
            cm = CompareMeans(DescrStatsW(adjusted[i]), DescrStatsW(adjusted[0]))
            t, p, df = cm.ttest_ind(usevar="unequal")
            effects[names[i]] = {
                "estimate": f(fit.params[i]),
                "stdError": f(cm.std_meandiff_separatevar),
                "pValue": f(p),
                "df": f(df),
            }
        raw_var = ys[0].var(ddof=1)
        cases.append(
            {
                "name": f"cuped n={n} arms={arms_n} rho={rho}",
                "arms": {arm: {"units": len(ys[i]), "sums": sums(ys[i], cov=cs[i])} for i, arm in enumerate(names)},
                "expected": {
                    "theta": f(theta),
                    "effects": effects,
                    "varianceReduction": f(1 - adjusted[0].var(ddof=1) / raw_var),
                },
            }
        )
    return cases


def multiarm_cases():
    """Four arms on one metric: Bonferroni-adjusted p-values from statsmodels' multipletests."""
    names = ["a", "b", "c", "d"]
    levels = [0.05, 0.05, 0.058, 0.062]
    data = {arm: draw("binary", 6000, lvl) for arm, lvl in zip(names, levels)}
    pvals = []
    for arm in names[1:]:
        _, p, _ = CompareMeans(DescrStatsW(data[arm]), DescrStatsW(data["a"])).ttest_ind(usevar="unequal")
        pvals.append(p)
    _, adjusted, _, _ = multipletests(pvals, alpha=0.05, method="bonferroni")
    return [
        {
            "name": "four arms, binary",
            "arms": {arm: {"units": len(x), "sums": sums(x)} for arm, x in data.items()},
            "expected": {arm: {"pValue": f(p), "pValueAdjusted": f(q)} for arm, p, q in zip(names[1:], pvals, adjusted)},
        }
    ]


def srm_cases():
    rows = []
    for observed, weights in [
        ({"a": 5000, "b": 5000}, {"a": 50, "b": 50}),
        ({"a": 5000, "b": 5210}, {"a": 50, "b": 50}),
        ({"a": 5000, "b": 5400}, {"a": 50, "b": 50}),
        ({"a": 2000, "b": 3000, "c": 5100}, {"a": 20, "b": 30, "c": 50}),
        ({"a": 900, "b": 1000, "c": 1100, "d": 1000}, {"a": 25, "b": 25, "c": 25, "d": 25}),
        ({"a": 9000, "b": 1000}, {"a": 90, "b": 10}),
    ]:
        obs = np.array([observed[k] for k in observed], dtype=float)
        w = np.array([weights[k] for k in observed], dtype=float)
        expected = obs.sum() * w / w.sum()
        stat, p = stats.chisquare(obs, f_exp=expected)
        rows.append({"observed": observed, "weights": weights, "chiSquare": f(stat), "pValue": f(p)})
    return rows


def wilson_cases():
    rows = []
    for count, nobs, alpha in [(0, 50, 0.05), (3, 40, 0.05), (120, 2400, 0.05), (49, 50, 0.1), (5120, 100000, 0.01)]:
        lo, hi = proportion_confint(count, nobs, alpha=alpha, method="wilson")
        rows.append({"count": count, "nobs": nobs, "alpha": alpha, "interval": [f(lo), f(hi)]})
    return rows


def power_cases():
    """Sample size per arm from statsmodels' NormalIndPower (Cohen's h for rates, d otherwise)."""
    rows = []
    for baseline, mde, alpha, power, arms in [
        (0.05, 0.1, 0.05, 0.8, 2),
        (0.2, 0.05, 0.05, 0.9, 2),
        (0.01, 0.2, 0.1, 0.8, 2),
        (0.05, 0.1, 0.05, 0.8, 4),
        (0.5, -0.02, 0.01, 0.8, 2),
    ]:
        h = proportion_effectsize(baseline * (1 + mde), baseline)
        a = alpha / (arms - 1)
        n = NormalIndPower().solve_power(effect_size=abs(h), alpha=a, power=power, ratio=1.0, alternative="two-sided")
        rows.append(
            {"binary": True, "baseline": baseline, "minimumEffect": mde, "alpha": alpha, "power": power, "arms": arms,
             "effectSize": f(h), "perArmExact": f(n)}
        )
    for baseline, sd, mde, alpha, power in [(40.0, 120.0, 0.05, 0.05, 0.8), (3.0, 2.0, 0.02, 0.05, 0.95)]:
        d = baseline * mde / sd
        n = NormalIndPower().solve_power(effect_size=d, alpha=alpha, power=power, ratio=1.0, alternative="two-sided")
        rows.append(
            {"binary": False, "baseline": baseline, "sd": sd, "minimumEffect": mde, "alpha": alpha, "power": power,
             "arms": 2, "effectSize": f(d), "perArmExact": f(n)}
        )
    for d, n1, alpha, ratio in [(0.1, 800, 0.05, 1.0), (0.03, 10000, 0.01, 2.0), (0.5, 10, 0.05, 1.0)]:
        rows.append({"powerCurve": {"effectSize": d, "n1": n1, "alpha": alpha, "ratio": ratio,
                               "value": f(NormalIndPower().power(d, n1, alpha, ratio=ratio, alternative="two-sided"))}})
    return rows


def sequential_cases():
    """The asymptotic confidence sequence's half-width (Waudby-Smith et al. 2024, Theorem 2.2 with
    ρ tuned at N*), written here from the paper, independently of the TypeScript."""
    rows = []
    for se, n, alpha, tuning in [(0.01, 1000, 0.05, 5000), (0.002, 200000, 0.05, 5000), (0.5, 50, 0.01, 1000),
                                 (0.003, 40000, 0.025, 40000)]:
        rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
        s2 = se * se * n
        half = math.sqrt(s2 * 2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha))
        rows.append({"se": se, "n": n, "alpha": alpha, "tuning": tuning, "halfWidth": f(half),
                     "fixedHalfWidth": f(stats.norm.ppf(1 - alpha / 2) * se)})
    return rows


def bayes_cases():
    """Gaussian posterior of the relative effect: chance to beat control and expected losses by
    numerical integration (scipy.integrate.quad), an independent check of the closed forms."""
    rows = []
    for mu, sd, higher in [(0.03, 0.02, True), (-0.01, 0.015, True), (0.02, 0.01, False), (0.0, 0.05, True)]:
        sign = 1 if higher else -1
        dens = stats.norm(mu, sd).pdf
        lo, hi = mu - 12 * sd, mu + 12 * sd
        loss, _ = integrate.quad(lambda x: max(0.0, -sign * x) * dens(x), lo, hi, points=[0.0], epsabs=1e-14)
        risk, _ = integrate.quad(lambda x: max(0.0, sign * x) * dens(x), lo, hi, points=[0.0], epsabs=1e-14)
        chance, _ = integrate.quad(lambda x: dens(x) if sign * x > 0 else 0.0, lo, hi, points=[0.0], epsabs=1e-14)
        rows.append({"mean": mu, "sd": sd, "higherIsBetter": higher, "chanceToBeatControl": f(chance),
                     "expectedLoss": f(loss), "riskOfControl": f(risk)})
    return rows


def main():
    cases = {
        "generator": {
            "script": "scripts/stats-oracle.py",
            "seed": SEED,
            "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
        },
        "numerics": numerics(),
        "welch": welch_cases(),
        "ratio": ratio_cases(),
        "cuped": cuped_cases(),
        "multiarm": multiarm_cases(),
        "srm": srm_cases(),
        "wilson": wilson_cases(),
        "power": power_cases(),
        "sequential": sequential_cases(),
        "bayes": bayes_cases(),
    }
    text = json.dumps(cases, indent=1, allow_nan=False) + "\n"
    if "--stdout" in sys.argv:
        sys.stdout.write(text)
        return
    with open(OUT, "w") as fh:
        fh.write(text)
    print(f"wrote {os.path.relpath(OUT)}: " + ", ".join(f"{k} {len(v)}" for k, v in cases.items() if isinstance(v, list)))


if __name__ == "__main__":
    main()
