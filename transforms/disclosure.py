"""Disclosure control that is proved: an LP audit of every withheld cell of the public tables,
and the secondary suppression that makes the audit pass.

The public tables are a system of linear relations (docs/disclosure.md): parts add up to
totals (placement groups to the caseload, schools to their phase, phases to the LA, the
requests funnel to the requests received, the public pack's printed totals), the same
figure appears in more than one table, and some counts are at most others (pupils with a
plan are at most the pupils). The relations are declared once, in
transforms/disclosure_model.py. An attacker who knows them and every published cell can
bound each withheld cell by linear programming: its smallest and largest value consistent
with all of them, every withheld count being at least 1 (zeros are always shown). A cell is
disclosed when that interval is at most 4 wide (its value pinned within +/-2).

Attribute disclosure is checked too: a published group whose every member (or none) has a
sensitive attribute (pupils with a plan = the pupils) tells it of each member.

`protect` starts from today's suppression (transforms/suppression.py) and withholds more,
one cell at a time, until the audit finds nothing: for a disclosed cell, the smallest
non-zero published part of a relation it is in (a total only when no part is left), so
that the published tables change only where the audit demands.

Pure polars and HiGHS (highspy): no Prefect.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import polars as pl

WIDTH = 4  # an interval at most this wide pins the value within +/-2: disclosed
LOWEST = 1  # a withheld count is at least 1: zeros are always shown
# No count of children in an LA's tables comes near it; bounding every cell keeps each LP
# bounded (so that every direction tried gives a solution) without pinning anything.
HIGHEST = 1e7


@dataclass(frozen=True)
class Ref:
    """Cells of one table: `columns` of the rows `where` selects, grouped by `keys` (name ->
    column or expression), which a relation matches with the other side's."""

    table: str
    columns: tuple[str, ...]
    keys: dict[str, str | pl.Expr] = field(default_factory=dict)
    where: pl.Expr | None = None


@dataclass(frozen=True)
class Relation:
    """Per group of equal keys: the parts' cells add up to (`sense` "=") or to at most
    (`sense` "<=") the total's, or are all the same figure as it (`sense` "same"). A total
    present in several rows (a table repeating the caseload in every row) is one figure:
    each copy equals the first."""

    name: str
    parts: Ref
    total: Ref
    sense: str = "="
    summed: bool = False  # the total's cells add up to it (several LAs' rows), not copies


@dataclass(frozen=True)
class Attribute:
    """`count` of the `group` in the same row has a sensitive attribute (pupils with an EHC
    plan of the pupils): `sides` says whether everyone ("all") or no one ("none") having
    it is a disclosure."""

    table: str
    count: str
    group: str
    sides: tuple[str, ...] = ("all",)


@dataclass(frozen=True)
class Derived:
    """A published column computed from counts of the same row (a percentage): shown only
    when every one of them is, or it gives them back."""

    table: str
    column: str
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    counts: dict[str, tuple[str, ...]]  # table -> its count columns (the cells)
    relations: tuple[Relation, ...]
    attributes: tuple[Attribute, ...] = ()
    derived: tuple[Derived, ...] = ()


@dataclass
class System:
    """The cells of the audited tables and the equations between them."""

    table: list[str]
    column: list[str]
    row: list[int]
    value: np.ndarray  # published value; NaN when withheld
    structural: np.ndarray  # NULL in the table itself (no figure), not withheld
    equations: list[tuple[dict[int, float], str, str]]  # {cell: coef}, sense, relation
    index: dict[tuple[str, str], int]  # (table, column) -> first cell id

    def cell(self, table: str, column: str, row: int) -> int:
        return self.index[(table, column)] + row

    def describe(self, i: int) -> str:
        return f"{self.table[i]}.{self.column[i]}[row {self.row[i]}]"


@dataclass(frozen=True)
class Finding:
    table: str
    column: str
    row: int
    kind: str  # "interval", "attribute", "derived"
    low: float | None
    high: float | None
    why: str


@dataclass
class Audit:
    findings: list[Finding]
    withheld: int  # withheld cells audited
    lps: int  # linear programmes solved
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.findings

    def failing_tables(self) -> set[str]:
        return {f.table for f in self.findings}


def build_system(tables: dict[str, pl.DataFrame], model: Model) -> System:
    """Cells for every count column of every table present, and the model's relations as
    equations between them (rows in the tables' own order)."""
    table, column, row, values, index, structural = [], [], [], [], {}, []
    for name, cols in model.counts.items():
        frame = tables.get(name)
        if frame is None:
            continue
        for c in cols:
            if c not in frame.columns:
                continue
            index[(name, c)] = len(table)
            series = frame[c].cast(pl.Float64)
            table += [name] * frame.height
            column += [c] * frame.height
            row += list(range(frame.height))
            values.append(series.fill_null(math.nan).to_numpy())
            listed = (frame["suppressed"].fill_null("").str.split(",").list.contains(c)
                      if "suppressed" in frame.columns else pl.repeat(True, frame.height,
                                                                      eager=True))
            structural.append((frame[c].is_null() & ~listed).to_numpy())
    system = System(table, column, row, np.concatenate(values) if values else np.zeros(0),
                    np.concatenate(structural) if structural else np.zeros(0, dtype=bool),
                    [], index)
    for relation in model.relations:
        # A relation with a cell that has no figure at all tells nothing.
        system.equations += [e for e in _equations(tables, system, relation)
                             if not any(system.structural[i] for i in e[0])]
    return system


def _cells(tables: dict[str, pl.DataFrame], system: System, ref: Ref) -> pl.DataFrame | None:
    """The ref's cells as rows of (keys..., cell)."""
    frame = tables.get(ref.table)
    if frame is None or any((ref.table, c) not in system.index for c in ref.columns):
        return None
    frame = frame.with_row_index("__row")
    if ref.where is not None:
        frame = frame.filter(ref.where)
    keys = [(pl.col(k) if isinstance(k, str) else k).cast(pl.Utf8).alias(n)
            for n, k in ref.keys.items()]
    return pl.concat([frame.select(*keys, (pl.col("__row").cast(pl.Int64)
                                           + system.index[(ref.table, c)]).alias("cell"))
                      for c in ref.columns])


def _equations(tables: dict[str, pl.DataFrame], system: System,
               relation: Relation) -> list[tuple[dict[int, float], str, str]]:
    parts, total = _cells(tables, system, relation.parts), _cells(tables, system,
                                                                  relation.total)
    if parts is None or total is None:
        return []
    on = list(relation.parts.keys)
    grouped = parts.group_by(on).agg(pl.col("cell").alias("parts")).join(
        total.group_by(on).agg(pl.col("cell").alias("total")), on=on, how="inner") if on \
        else pl.DataFrame({"parts": [parts["cell"].to_list()],
                           "total": [total["cell"].to_list()]})
    out = []
    for ps, ts in zip(grouped["parts"].to_list(), grouped["total"].to_list(), strict=True):
        first = ts[0]
        if relation.sense == "same":  # one figure shown in several places
            out += [({c: 1.0, first: -1.0}, "=", relation.name) for c in (*ps, *ts[1:])]
            continue
        coefs: dict[int, float] = defaultdict(float)
        for p in ps:
            coefs[p] += 1.0
        for t in ts if relation.summed else ts[:1]:
            coefs[t] -= 1.0
        out.append((dict(coefs), relation.sense, relation.name))
        if not relation.summed:
            out += [({t: 1.0, first: -1.0}, "=", relation.name + " (copies)") for t in ts[1:]]
    return out


def residuals(tables: dict[str, pl.DataFrame], model: Model) -> list[str]:
    """Relations the given tables break (for the true kpi.* tables: none, or the model is
    wrong): one line each."""
    system = build_system(tables, model)
    bad = []
    for coefs, sense, name in system.equations:
        lhs = sum(c * system.value[i] for i, c in coefs.items())
        if math.isnan(lhs):
            continue
        if (sense == "=" and abs(lhs) > 1e-6) or (sense == "<=" and lhs > 1e-6):
            cells = ", ".join(f"{system.describe(i)}={system.value[i]:g}" for i in coefs)
            bad.append(f"{name}: {cells}")
    return bad


def _components(system: System) -> list[tuple[list[int], list[int]]]:
    """Withheld cells linked by equations, each group with its equations."""
    withheld = np.isnan(system.value) & ~system.structural
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    touching = []
    for e, (coefs, _, _) in enumerate(system.equations):
        cells = [i for i in coefs if withheld[i]]
        if cells:
            touching.append(e)
            for other in cells[1:]:
                parent[find(other)] = find(cells[0])
            find(cells[0])
    for i in np.flatnonzero(withheld):
        find(int(i))
    groups: dict[int, list[int]] = defaultdict(list)
    for i in parent:
        groups[find(i)].append(i)
    equations: dict[int, list[int]] = defaultdict(list)
    for e in touching:
        first = next(i for i in system.equations[e][0] if withheld[i])
        equations[find(first)].append(e)
    return [(sorted(cells), equations[root]) for root, cells in groups.items()]


def _intervals(system: System, cells: list[int], equations: list[int],
               wide: set[int] = frozenset(), exact: bool = False
               ) -> tuple[dict[int, tuple[float, float]], int]:
    """Each withheld cell's smallest and largest value given the equations (HiGHS LP).

    Two LPs a cell are only needed for cells that might be pinned: every solution found
    (first a few of random directions, then each cell's own) is a value the cell can take,
    so a cell seen at two values more than WIDTH apart is safe without LPs of its own. The
    intervals reported are exact for the cells that could be disclosed; a safe cell's is
    the spread seen (a lower bound of its width). `wide`: cells already proven wide (in a
    system with fewer cells withheld: withholding more only widens), which need no LP.
    `exact`: every cell's own two LPs (for tests of the pruning)."""
    import highspy

    if not equations:
        return {c: (LOWEST, math.inf) for c in cells}, 0
    position = {c: k for k, c in enumerate(cells)}
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # Many small LPs on one model, each from the last one's basis: presolve only costs.
    h.setOptionValue("presolve", "off")
    inf = highspy.kHighsInf
    n = len(cells)
    h.addVars(n, np.full(n, float(LOWEST)), np.full(n, HIGHEST))
    for e in equations:
        coefs, sense, _ = system.equations[e]
        known = sum(c * system.value[i] for i, c in coefs.items() if i not in position)
        idx = np.array([position[i] for i in coefs if i in position], dtype=np.int32)
        val = np.array([coefs[i] for i in coefs if i in position], dtype=np.float64)
        # parts - total (+ the published cells' share) = 0, or <= 0
        h.addRow(-inf if sense == "<=" else -known, -known, len(idx), idx, val)
    seen_low, seen_high = np.full(n, np.inf), np.full(n, -np.inf)
    everything = np.arange(n, dtype=np.int32)
    lps = 0

    def solve(cost: np.ndarray, maximise: bool) -> float | None:
        """The optimum (inf when unbounded, NaN when infeasible); the solution's values
        widen what each cell has been seen at."""
        nonlocal lps
        h.changeColsCost(n, everything, cost)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize if maximise
                               else highspy.ObjSense.kMinimize)
        h.run()
        lps += 1
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kUnbounded:
            return math.inf
        if status != highspy.HighsModelStatus.kOptimal:
            return math.nan
        x = np.asarray(h.getSolution().col_value)
        np.minimum(seen_low, x, out=seen_low)
        np.maximum(seen_high, x, out=seen_high)
        return h.getInfo().objective_function_value

    rng = np.random.default_rng(0)
    if math.isnan(solve(np.ones(n), False)):
        return {c: (math.nan, math.nan) for c in cells}, lps
    # Push the cells not yet seen wide up, then down, with random weights, a few times:
    # each solution widens many at once, and those left get LPs of their own.
    known = np.array([c in wide for c in cells])
    for k in range(6):
        narrow = (seen_high - seen_low <= WIDTH + 1e-6) & ~known
        if not narrow.any():
            break
        solve(np.where(narrow, rng.uniform(0.5, 1, n), 0.0), k % 2 == 0)
    out = {}
    for c in cells:
        k = position[c]
        if not exact and (seen_high[k] - seen_low[k] > WIDTH + 1e-6 or known[k]):
            continue
        cost = np.zeros(n)
        cost[k] = 1.0
        high = solve(cost, True)
        # Seen at its lower bound already: that is its minimum, no LP needed.
        low = float(seen_low[k]) if seen_low[k] <= LOWEST + 1e-9 and not exact \
            else solve(cost, False)
        out[c] = (low, high)
    for c in cells:
        if c not in out:
            k = position[c]
            out[c] = (float(seen_low[k]), math.inf if known[k] else float(seen_high[k]))
    return out, lps


def audit(tables: dict[str, pl.DataFrame], model: Model,
          wide: set[tuple[str, str, int]] | None = None) -> Audit:
    """Every withheld cell's interval, every published group's attribute and every derived
    column, against the published cells of all `tables` together. `wide`: cells (table,
    column, row) proven wide by an earlier audit of the same tables with no more cells
    withheld; the cells this audit proves wide are added to it."""
    started = time.perf_counter()
    system = build_system(tables, model)
    findings: list[Finding] = []
    lps = 0
    intervals: dict[int, tuple[float, float]] = {}
    for cells, equations in _components(system):
        known = {c for c in cells if wide is not None
                 and (system.table[c], system.column[c], system.row[c]) in wide}
        got, n = _intervals(system, cells, equations, known)
        intervals.update(got)
        lps += n
    if wide is not None:
        wide.update((system.table[c], system.column[c], system.row[c])
                    for c, (low, high) in intervals.items() if high - low > WIDTH + 1e-6)
    for c, (low, high) in intervals.items():
        if math.isnan(low) or math.isnan(high):
            findings.append(Finding(system.table[c], system.column[c], system.row[c],
                                    "interval", None, None,
                                    "no value fits the published cells: a relation is wrong"))
        elif high - low <= WIDTH + 1e-6:
            findings.append(Finding(system.table[c], system.column[c], system.row[c],
                                    "interval", low, high,
                                    f"recoverable: between {low:g} and {high:g}"))
    findings += _attributes(tables, model, system, intervals)
    findings += _derived(tables, model)
    return Audit(findings, len(intervals), lps, time.perf_counter() - started)


def _attributes(tables: dict[str, pl.DataFrame], model: Model, system: System,
                intervals: dict[int, tuple[float, float]]) -> list[Finding]:
    out = []
    for a in model.attributes:
        frame = tables.get(a.table)
        if frame is None or (a.table, a.count) not in system.index:
            continue
        counts, groups = frame[a.count].to_list(), frame[a.group].to_list()
        for r, (c, n) in enumerate(zip(counts, groups, strict=True)):
            if n is None or n <= 0:
                continue
            cell = system.cell(a.table, a.count, r)
            if c is None and cell not in intervals:
                continue  # no figure at all
            low, high = (c, c) if c is not None else intervals[cell]
            if "all" in a.sides and low >= n - 1e-6:
                out.append(Finding(a.table, a.count, r, "attribute", low, high,
                                   f"every one of the {n} in the group ({a.group}) counts"))
            elif "none" in a.sides and high <= 1e-6:
                out.append(Finding(a.table, a.count, r, "attribute", low, high,
                                   f"no one of the {n} in the group ({a.group}) counts"))
    return out


def _derived(tables: dict[str, pl.DataFrame], model: Model) -> list[Finding]:
    out = []
    for d in model.derived:
        frame = tables.get(d.table)
        if frame is None or d.column not in frame.columns:
            continue
        leaks = frame.with_row_index("__row").filter(
            pl.col(d.column).is_not_null()
            & pl.any_horizontal([pl.col(c).is_null() for c in d.inputs]))
        out += [Finding(d.table, d.column, r, "derived", None, None,
                        f"shown though one of {', '.join(d.inputs)} is withheld")
                for r in leaks["__row"].to_list()]
    return out


def protect(tables: dict[str, pl.DataFrame], model: Model, max_rounds: int = 500
            ) -> tuple[dict[str, pl.DataFrame], Audit]:
    """`tables` with the fewest further cells withheld that the audit demands (greedy),
    and the final audit: its findings are what could not be protected."""
    tables = dict(tables)
    wide: set[tuple[str, str, int]] = set()
    started, lps = time.perf_counter(), 0
    for _ in range(max_rounds):
        result = audit(tables, model, wide)
        lps += result.lps
        if result.passed:
            break
        picks = _picks(tables, model, result)
        if not picks:
            break
        tables = withhold(tables, picks, model)
    else:
        result = audit(tables, model, wide)
        lps += result.lps
    return tables, Audit(result.findings, result.withheld, lps, time.perf_counter() - started)


def _picks(tables: dict[str, pl.DataFrame], model: Model, result: Audit
           ) -> dict[tuple[str, str], set[int]]:
    """The cells to withhold next: a derived column that leaks itself; a published count
    that discloses an attribute itself; for a recoverable withheld cell, the smallest
    non-zero published part of a relation it is in (a total when no part is left). One
    pick per component a round, so that one withheld cell can protect several others."""
    system = build_system(tables, model)
    picks: dict[tuple[str, str], set[int]] = defaultdict(set)
    for f in result.findings:
        if f.kind == "derived" or (f.kind == "attribute" and
                                   not math.isnan(system.value[system.cell(f.table, f.column,
                                                                           f.row)])):
            picks[(f.table, f.column)].add(f.row)
    by_cell: dict[int, list[int]] = defaultdict(list)
    for e, (coefs, _, _) in enumerate(system.equations):
        for i in coefs:
            by_cell[i].append(e)
    chosen: set[int] = set()
    # Cells in an equation with a cell picked this round wait for the next audit: that
    # pick may already protect them.
    touched: set[int] = set()
    for f in result.findings:
        if f.kind == "derived" or (f.table, f.column) not in system.index:
            continue
        cell = system.cell(f.table, f.column, f.row)
        if not math.isnan(system.value[cell]) or cell in touched:
            continue
        candidates = []
        for e in by_cell[cell]:
            coefs, sense, _ = system.equations[e]
            for i, c in coefs.items():
                v = system.value[i]
                if i == cell or math.isnan(v) or v <= 0 or i in chosen:
                    continue
                # A relation's total (coefficient -1) only when no part is left.
                candidates.append((c < 0, v, i))
        if not candidates:
            continue
        _, _, best = min(candidates)
        chosen.add(best)
        for e in by_cell[best]:
            touched.update(system.equations[e][0])
        picks[(system.table[best], system.column[best])].add(system.row[best])
    return picks


def withhold(tables: dict[str, pl.DataFrame], picks: dict[tuple[str, str], set[int]],
             model: Model) -> dict[str, pl.DataFrame]:
    """The tables with the picked cells withheld, the derived columns that use them too,
    and each row's `suppressed` list extended."""
    tables = dict(tables)
    for name in {t for t, _ in picks}:
        frame = tables[name].with_row_index("__row")
        added = []
        for (t, column), rows in picks.items():
            if t != name:
                continue
            hit = pl.col("__row").is_in(sorted(rows))
            frame = frame.with_columns(
                pl.when(hit).then(None).otherwise(pl.col(column)).alias(column),
                pl.when(hit).then(pl.lit(column)).alias(f"__w_{column}"))
            added.append(f"__w_{column}")
        for d in model.derived:
            if d.table == name and d.column in frame.columns:
                hit = pl.col(d.column).is_not_null() & pl.any_horizontal(
                    [pl.col(c).is_null() for c in d.inputs])
                frame = frame.with_columns(
                    pl.when(hit).then(pl.lit(d.column)).alias(f"__w_{d.column}"),
                    pl.when(hit).then(None).otherwise(pl.col(d.column)).alias(d.column))
                added.append(f"__w_{d.column}")
        listed = pl.concat_str([pl.col("suppressed"), *[pl.col(a) for a in added]],
                               separator=",", ignore_nulls=True)
        frame = frame.with_columns(pl.when(listed != "").then(listed).alias("suppressed")) \
            if "suppressed" in frame.columns else frame
        tables[name] = frame.drop("__row", *added)
    return tables
