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
from functools import cached_property

import numpy as np
import polars as pl

WIDTH = 4  # an interval at most this wide pins the value within +/-2: disclosed
LOWEST = 1  # a withheld count is at least 1: zeros are always shown
# No count of children in an LA's tables comes near it; bounding every cell keeps each LP
# bounded (so that every direction tried gives a solution) without pinning anything.
HIGHEST = 1e7
# A published part at least this big, withheld beside a cell of at least 1, leaves their
# split more than WIDTH wide.
SAFE_PART = WIDTH + 2


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
    """A published column computed from counts of the same row (a percentage) and, for a
    change on the year before, of the row whose `order` is one less (`previous`): shown only
    when every one of them is, or it gives them back (a growth rate and one year's count
    give the other year's)."""

    table: str
    column: str
    inputs: tuple[str, ...]
    previous: tuple[str, ...] = ()
    order: str = "year"

    def leaks(self, frame: pl.DataFrame) -> pl.Series:
        """Per row: the column is shown though one of its inputs is withheld."""
        hidden = frame.select(pl.any_horizontal([pl.col(c).is_null() for c in self.inputs])
                              .alias("__h"))["__h"]
        if self.previous:
            before = frame.select(
                (pl.col(self.order) + 1).alias(self.order),
                pl.any_horizontal([pl.col(c).is_null() for c in self.previous]).alias("__h"))
            hidden = hidden | frame.select(self.order).join(
                before.unique(self.order, keep="any"), on=self.order, how="left",
                maintain_order="left")["__h"].fill_null(False)
        return frame[self.column].is_not_null() & hidden


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

    @cached_property
    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The equations' coefficients as arrays: each entry's equation, cell and
        coefficient, in equation order (the vectorised form of `equations`)."""
        sizes = np.array([len(coefs) for coefs, _, _ in self.equations], dtype=np.int64)
        cells = np.fromiter((i for coefs, _, _ in self.equations for i in coefs),
                            dtype=np.int64, count=int(sizes.sum()))
        coefs = np.fromiter((c for coefs, _, _ in self.equations for c in coefs.values()),
                            dtype=np.float64, count=int(sizes.sum()))
        return np.repeat(np.arange(len(sizes)), sizes), cells, coefs

    @cached_property
    def equation_start(self) -> np.ndarray:
        """Where each equation's entries start in `entries` (and, last, their count)."""
        return np.searchsorted(self.entries[0], np.arange(len(self.equations) + 1))

    @cached_property
    def inequality(self) -> np.ndarray:
        return np.array([sense == "<=" for _, sense, _ in self.equations], dtype=bool)


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
    system = _cells_only(tables, model)
    for relation in model.relations:
        # A relation with a cell that has no figure at all tells nothing.
        system.equations += [e for e in _equations(tables, system, relation)
                             if not any(system.structural[i] for i in e[0])]
    return system


def _cells_only(tables: dict[str, pl.DataFrame], model: Model) -> System:
    """The system's cells, without its equations."""
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
    return System(table, column, row, np.concatenate(values) if values else np.zeros(0),
                  np.concatenate(structural) if structural else np.zeros(0, dtype=bool),
                  [], index)


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
    # (In order: the same tables give the same equations, so the same LPs and choices.)
    grouped = parts.group_by(on, maintain_order=True).agg(pl.col("cell").alias("parts")).join(
        total.group_by(on, maintain_order=True).agg(pl.col("cell").alias("total")), on=on,
        how="inner", maintain_order="left") if on \
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
    """Withheld cells linked by equations, each group with its equations (in order)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    withheld = np.isnan(system.value) & ~system.structural
    equation, cell, _ = system.entries
    hit = withheld[cell]
    equation, cell = equation[hit], cell[hit]
    # Each equation's withheld cells chained one to the next: linked, so one component.
    same = equation[1:] == equation[:-1]
    n = len(system.value)
    graph = coo_matrix((np.ones(int(same.sum())), (cell[:-1][same], cell[1:][same])),
                       shape=(n, n))
    _, label = connected_components(graph, directed=False)
    ids = np.flatnonzero(withheld)
    order = np.argsort(label[ids], kind="stable")
    ids = ids[order]
    cuts = np.flatnonzero(np.diff(label[ids])) + 1
    first = np.concatenate(([True], ~same)) if len(equation) else np.zeros(0, dtype=bool)
    eq_ids, eq_labels = equation[first], label[cell[first]]
    eq_order = np.argsort(eq_labels, kind="stable")
    eq_ids, eq_labels = eq_ids[eq_order], eq_labels[eq_order]
    out = []
    for group in np.split(ids, cuts) if len(ids) else []:
        root = label[group[0]]
        lo, hi = np.searchsorted(eq_labels, [root, root + 1])
        out.append((group.tolist(), eq_ids[lo:hi].tolist()))
    return out


def _intervals(system: System, cells: list[int], equations: list[int],
               wide: set[int] = frozenset(), exact: bool = False,
               pairs: tuple[tuple[int, int], ...] = (), floors: dict[int, float] | None = None
               ) -> tuple[dict[int, tuple[float, float]], int, dict[tuple[int, int], float]]:
    """Each withheld cell's smallest and largest value given the equations (HiGHS LP).

    Two LPs a cell are only needed for cells that might be pinned: every solution found
    (first a few of random directions, then each cell's own) is a value the cell can take,
    so a cell seen at two values more than WIDTH apart is safe without LPs of its own. The
    intervals reported are exact for the cells that could be disclosed; a safe cell's is
    the spread seen (a lower bound of its width). `wide`: cells already proven wide (in a
    system with fewer cells withheld: withholding more only widens), which need no LP.
    `exact`: every cell's own two LPs (for tests of the pruning).

    `pairs`: (count, group) cells of one row, both withheld (pupils with a plan, and the
    pupils): the largest the group can exceed the count by (0: everyone has it), an LP
    only for a pair no solution found so far shows apart. `floors`: count cells whose
    shown group this is (cell -> the group's figure): their minimum is exact whenever it
    might reach the group."""
    import highspy

    floors = floors or {}
    if not equations:
        return {c: (LOWEST, math.inf) for c in cells}, 0, {p: math.inf for p in pairs}
    position = {c: k for k, c in enumerate(cells)}
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # Many small LPs on one model, each from the last one's basis: presolve only costs.
    h.setOptionValue("presolve", "off")
    # A new cost keeps the last basis feasible: primal simplex carries on from it, where the
    # default (dual) starts over (16.8 s -> 1.3 s on the national census's largest component).
    h.setOptionValue("simplex_strategy", 4)
    # One thread: the same tables give the same solutions, so the same cells withheld.
    h.setOptionValue("threads", 1)
    h.setOptionValue("simplex_max_concurrency", 1)
    n = len(cells)
    h.addVars(n, np.full(n, float(LOWEST)), np.full(n, HIGHEST))
    # The equations' entries, each row's cells among the variables and the published
    # cells' share as its constant: parts - total (+ the share) = 0, or <= 0.
    _, entry_cell, entry_coef = system.entries
    eqs = np.asarray(equations, dtype=np.int64)
    starts = system.equation_start[eqs]
    lengths = system.equation_start[eqs + 1] - starts
    offsets = np.cumsum(lengths) - lengths
    entries = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    local_row = np.repeat(np.arange(len(eqs)), lengths)
    cell, coef = entry_cell[entries], entry_coef[entries]
    where = np.full(len(system.value), -1, dtype=np.int64)
    where[cells] = np.arange(n)
    variable = where[cell]
    inside = variable >= 0
    known = np.bincount(local_row[~inside], coef[~inside] * system.value[cell[~inside]],
                        minlength=len(eqs))
    lower = np.where(system.inequality[eqs], -np.inf, -known)
    upper = -known
    rows, cols, vals = local_row[inside], variable[inside], coef[inside]
    h.addRows(len(eqs), lower, upper, len(cols),
              np.searchsorted(rows, np.arange(len(eqs))).astype(np.int32),
              cols.astype(np.int32), vals)
    # Bounds every solution keeps (each cell's true interval lies within): a cell they pin
    # within WIDTH is disclosed without LPs of its own.
    bound_low, bound_high = _propagate(rows, cols, vals, lower, upper, n)
    pinned = (bound_high - bound_low <= WIDTH + 1e-6) & (bound_low <= bound_high + 1e-6) \
        & (not exact)
    seen_low, seen_high = np.full(n, np.inf), np.full(n, -np.inf)
    everything = np.arange(n, dtype=np.int32)
    lps = 0
    pair_count = np.array([where[c] for c, _ in pairs], dtype=np.int64)
    pair_group = np.array([where[g] for _, g in pairs], dtype=np.int64)
    gap = np.full(len(pairs), -np.inf)

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
        np.maximum(gap, x[pair_group] - x[pair_count], out=gap)
        return h.getInfo().objective_function_value

    rng = np.random.default_rng(0)
    if math.isnan(solve(np.ones(n), False)):
        return {c: (math.nan, math.nan) for c in cells}, lps, {p: math.nan for p in pairs}
    # Proofs for many cells at once: a random half of the cells not yet seen wide is
    # pushed up (then down), each capped just past the spread it needs, so that a sum's
    # slack spreads over all of them rather than going to one (as a vertex otherwise
    # does); the other cells absorb the rest. Every solution is feasible without the caps
    # too. Those left get LPs of their own.
    known = np.array([c in wide for c in cells])
    lowest, highest = np.full(n, float(LOWEST)), np.full(n, HIGHEST)
    left = []
    for attempt in range(8):
        narrow = (seen_high - seen_low <= WIDTH + 1e-6) & ~known & ~pinned
        left.append(int(narrow.sum()))
        # Stop when a push up and one down proved nothing, or few are left for own LPs.
        if left[-1] <= 2 or (attempt >= 2 and left[-1] == left[-3]):
            break
        batch = narrow & (rng.random(n) < 0.5)
        up = attempt % 2 == 0
        if up:
            h.changeColsBounds(n, everything, lowest,
                               np.where(batch, seen_low + WIDTH + 1, highest))
        else:
            batch &= seen_high - WIDTH - 1 >= LOWEST
            h.changeColsBounds(n, everything, np.where(batch, seen_high - WIDTH - 1, lowest),
                               highest)
        solve(batch.astype(float), up)
        h.changeColsBounds(n, everything, lowest, highest)
    out = {}
    for c in cells:
        k = position[c]
        if pinned[k]:
            out[c] = (float(bound_low[k]), float(bound_high[k]))
            continue
        if not exact and (seen_high[k] - seen_low[k] > WIDTH + 1e-6 or known[k]):
            continue
        cost = np.zeros(n)
        cost[k] = 1.0
        high = solve(cost, True)
        if exact:
            low = solve(cost, False)
        elif seen_low[k] <= LOWEST + 1e-9 or high - seen_low[k] > WIDTH + 1e-6:
            # Seen at its lower bound (its minimum), or wide whatever its minimum.
            low = float(seen_low[k])
        elif high - bound_low[k] <= WIDTH + 1e-6:
            low = float(bound_low[k])  # narrow whatever its minimum: a bound of it
        else:
            low = solve(cost, False)
        out[c] = (low, high)
    for c in cells:
        if c not in out:
            k = position[c]
            out[c] = (float(seen_low[k]), math.inf if known[k] else float(seen_high[k]))
    for c, floor in floors.items():
        # A count that might be its whole group's: its true minimum, not a value seen.
        k = position[c]
        if out[c][0] >= floor - 1e-6 and not pinned[k] and not exact:
            cost = np.zeros(n)
            cost[k] = 1.0
            out[c] = (solve(cost, False), out[c][1])
    # Pairs pushed apart together: the sum of their gaps maximised with each capped at 1, so
    # that the group's slack spreads over as many pairs as it can (one LP, not one a pair).
    for _ in range(8):
        together = np.flatnonzero(gap <= 1e-6)
        if len(together) <= 2 or exact:
            break
        before = len(together)
        first_row = h.getNumRow()
        k = len(together)
        h.addRows(k, np.full(k, -np.inf), np.ones(k), 2 * k,
                  np.arange(0, 2 * k, 2, dtype=np.int32),
                  np.column_stack([pair_group[together], pair_count[together]])
                  .ravel().astype(np.int32), np.tile([1.0, -1.0], k))
        cost = np.zeros(n)
        np.add.at(cost, pair_group[together], 1.0)
        np.add.at(cost, pair_count[together], -1.0)
        solve(cost, True)
        h.deleteRows(k, np.arange(first_row, first_row + k, dtype=np.int32))
        if int(np.sum(gap <= 1e-6)) == before:
            break
    gaps = {}
    for j, p in enumerate(pairs):
        if gap[j] <= 1e-6 or exact:
            cost = np.zeros(n)
            cost[pair_group[j]], cost[pair_count[j]] = 1.0, -1.0
            gap[j] = solve(cost, True)
        gaps[p] = float(gap[j])
    return out, lps, gaps


def _propagate(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, lower: np.ndarray,
               upper: np.ndarray, n: int, passes: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of each variable implied by rows `lower <= sum(vals * x[cols]) <= upper`
    (one entry per coefficient) and LOWEST <= x <= HIGHEST, tightened row by row: the
    textbook bound propagation of LP presolve. Every feasible x lies within them."""
    low, high = np.full(n, float(LOWEST)), np.full(n, HIGHEST)
    m = len(lower)
    positive = vals > 0
    for _ in range(passes):
        a_low, a_high = vals * low[cols], vals * high[cols]
        least, most = np.minimum(a_low, a_high), np.maximum(a_low, a_high)
        # What the row's other terms can add up to, at least and at most.
        others_least = np.bincount(rows, least, m)[rows] - least
        others_most = np.bincount(rows, most, m)[rows] - most
        with np.errstate(invalid="ignore"):
            from_low = (lower[rows] - others_most) / vals  # a x >= lower - the others' most
            from_high = (upper[rows] - others_least) / vals
        new_low, new_high = low.copy(), high.copy()
        np.maximum.at(new_low, cols, np.where(positive, from_low, from_high))
        np.minimum.at(new_high, cols, np.where(positive, from_high, from_low))
        moved = max(np.max(new_low - low, initial=0), np.max(high - new_high, initial=0))
        low, high = new_low, new_high
        if moved < 0.5 or np.any(low > high + 1e-6):
            break
    return low, high


def audit(tables: dict[str, pl.DataFrame], model: Model) -> Audit:
    """Every withheld cell's interval, every published group's attribute and every derived
    column, against the published cells of all `tables` together."""
    started = time.perf_counter()
    auditor = _Auditor(build_system(tables, model), model, _heights(tables), tables)
    findings = auditor.run() + _derived(tables, model)
    return Audit(findings, auditor.withheld, auditor.lps, time.perf_counter() - started)


def _heights(tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    return {name: frame.height for name, frame in tables.items()}


class _Auditor:
    """The audit of one system, repeated as protect withholds more of its cells.

    The system is built once. Withholding a cell joins it to the components of its
    equations, so a component whose cells are the same as last time has the same
    equations and the same published values around it: its intervals are reused as they
    are (exact, not an estimate). Cells proven wide stay wide (withholding more only
    widens), so they need no LP in a larger component either."""

    def __init__(self, system: System, model: Model, heights: dict[str, int],
                 tables: dict[str, pl.DataFrame]):
        self.system, self.model, self.heights = system, model, heights
        self.intervals: dict[tuple[int, ...], dict[int, tuple[float, float]]] = {}
        self.wide: set[int] = set()
        self.apart: set[tuple[int, int]] = set()  # pairs shown apart: stay apart
        self.pair_attributes = {a for a in model.attributes if "all" in a.sides
                                and (a.table, a.group) in system.index}
        self.lps = 0
        self.withheld = 0
        # Attribute groups that are not count cells keep their published values.
        self.groups = {a: tables[a.table][a.group].cast(pl.Float64).fill_null(math.nan)
                       .to_numpy() for a in model.attributes
                       if a.table in tables and (a.table, a.group) not in system.index}
        # Each equation's entries, and each cell's equations, as slices of arrays.
        equation, self.entry_cell, self.entry_coef = system.entries
        n = len(system.value)
        self.equation_start = system.equation_start
        by_cell = np.argsort(self.entry_cell, kind="stable")
        self.cell_equations = equation[by_cell]
        self.cell_start = np.searchsorted(self.entry_cell[by_cell], np.arange(n + 1))
        # Equations that say one figure is shown twice (a mix repeating the caseload): a
        # pick there withholds another copy of a figure, which protects nothing unless the
        # figure itself is withheld (picks: `_pinning`).
        same = {r.name for r in model.relations if r.sense == "same"}
        self.copy = np.array([name in same or name.endswith(" (copies)")
                              for _, _, name in system.equations], dtype=bool)

    def _pairs(self) -> dict[int, int]:
        """Withheld count cell -> its row's withheld group cell, for the attributes whose
        group is a count of the system."""
        out: dict[int, int] = {}
        value = self.system.value
        for a in self.model.attributes:
            if (a.table, a.count) not in self.system.index or a not in self.pair_attributes:
                continue
            count = self.system.index[(a.table, a.count)]
            group = self.system.index[(a.table, a.group)]
            rows = np.arange(self.heights[a.table])
            both = np.isnan(value[count + rows]) & np.isnan(value[group + rows]) \
                & ~self.system.structural[count + rows] & ~self.system.structural[group + rows]
            out.update(zip((count + rows[both]).tolist(), (group + rows[both]).tolist(),
                           strict=True))
        return out

    def _floors(self) -> dict[int, float]:
        """Withheld count cell -> its row's shown group figure."""
        out: dict[int, float] = {}
        for a in self.model.attributes:
            if (a.table, a.count) not in self.system.index or a.table not in self.heights \
                    or "all" not in a.sides:
                continue
            start = self.system.index[(a.table, a.count)]
            count = self.system.value[start:start + self.heights[a.table]]
            group = self._group(a)
            rows = np.flatnonzero(np.isnan(count) & ~np.isnan(group))
            out.update(zip((start + rows).tolist(), group[rows].tolist(), strict=True))
        return out

    def run(self) -> list[Finding]:
        """The interval and attribute findings of the system as it stands."""
        system = self.system
        pair_of, floor_of = self._pairs(), self._floors()
        kept: dict[tuple[int, ...], tuple[dict, dict]] = {}
        intervals: dict[int, tuple[float, float]] = {}
        gaps: dict[tuple[int, int], float] = {}
        for cells, equations in _components(system):
            key = tuple(cells)
            got = self.intervals.get(key)
            if got is None:
                members = set(cells)
                pairs = tuple((c, pair_of[c]) for c in cells
                              if c in pair_of and pair_of[c] in members)
                found, n, gap = _intervals(system, cells, equations,
                                           {c for c in cells if c in self.wide},
                                           pairs=tuple(p for p in pairs
                                                       if p not in self.apart),
                                           floors={c: floor_of[c] for c in cells
                                                   if c in floor_of})
                gap.update((p, math.inf) for p in pairs if p in self.apart)
                got = found, gap
                self.lps += n
                self.wide.update(c for c, (low, high) in found.items()
                                 if high - low > WIDTH + 1e-6)
                self.apart.update(p for p, g in gap.items() if g > 1e-6)
            kept[key] = got
            intervals.update(got[0])
            gaps.update(got[1])
        self.intervals = kept
        self.withheld = len(intervals)
        findings = []
        for c, (low, high) in intervals.items():
            if math.isnan(low) or math.isnan(high):
                findings.append(Finding(system.table[c], system.column[c], system.row[c],
                                        "interval", None, None,
                                        "no value fits the published cells: a relation is "
                                        "wrong"))
            elif high - low <= WIDTH + 1e-6:
                findings.append(Finding(system.table[c], system.column[c], system.row[c],
                                        "interval", low, high,
                                        f"recoverable: between {low:g} and {high:g}"))
        return findings + self._attributes(intervals, gaps)

    def _group(self, a: Attribute) -> np.ndarray:
        if a in self.groups:
            return self.groups[a]
        start = self.system.index[(a.table, a.group)]
        return self.system.value[start:start + self.heights[a.table]]

    def _attributes(self, intervals: dict[int, tuple[float, float]],
                    gaps: dict[tuple[int, int], float]) -> list[Finding]:
        """A group whose every member has the attribute (or none), shown or worked out:
        the count's least value reaches the group's; with the group withheld, the group's
        most reaches the count; with both withheld, the relations leave no gap between
        them."""
        system, out = self.system, []
        for a in self.model.attributes:
            if (a.table, a.count) not in system.index or a.table not in self.heights:
                continue
            start = system.index[(a.table, a.count)]
            count = system.value[start:start + self.heights[a.table]]
            group = self._group(a)
            low, high = count.copy(), count.copy()
            for r in np.flatnonzero(np.isnan(count)):
                low[r], high[r] = intervals.get(start + int(r), (math.nan, math.nan))
            group_most = group.copy()
            if a not in self.groups:
                g0 = system.index[(a.table, a.group)]
                for r in np.flatnonzero(np.isnan(group)):
                    group_most[r] = intervals.get(g0 + int(r), (math.nan, math.nan))[1]
            with np.errstate(invalid="ignore"):
                real = ~np.isnan(group) & (group > 0) & ~np.isnan(low)
                everyone = real & (low >= group - 1e-6) if "all" in a.sides else real & False
                no_one = real & ~everyone & (high <= 1e-6) if "none" in a.sides \
                    else real & False
                # The group withheld, the count shown: the group can be no larger.
                capped = np.isnan(group) & ~np.isnan(count) & (count > 0) \
                    & (group_most <= count + 1e-6) if "all" in a.sides else real & False
            for r in np.flatnonzero(everyone | no_one | capped):
                n = f"{group[r]:g}" if not np.isnan(group[r]) else f"{count[r]:g} (withheld)"
                why = (f"no one of the {n} in the group ({a.group}) counts" if no_one[r]
                       else f"every one of the {n} in the group ({a.group}) counts")
                out.append(Finding(a.table, a.count, int(r), "attribute", float(low[r]),
                                   float(high[r]), why))
            if "all" not in a.sides or a.group == a.count:
                continue
            for r in np.flatnonzero(np.isnan(count) & np.isnan(group)):
                pair = (start + int(r), system.index.get((a.table, a.group), -1) + int(r))
                if gaps.get(pair, math.inf) <= 1e-6:
                    out.append(Finding(a.table, a.count, int(r), "attribute",
                                       *intervals.get(pair[0], (math.nan, math.nan)),
                                       f"every one in the group ({a.group}, withheld) "
                                       "counts: the relations leave no gap between them"))
        return out

    def boundary(self) -> np.ndarray:
        """Shown counts at an attribute's edge (everyone in the row has it): withholding
        one gives a neighbour no room, so they are picked last."""
        out = np.zeros(len(self.system.value), dtype=bool)
        for a in self.model.attributes:
            if (a.table, a.count) not in self.system.index or a.table not in self.heights:
                continue
            start = self.system.index[(a.table, a.count)]
            count = self.system.value[start:start + self.heights[a.table]]
            with np.errstate(invalid="ignore"):
                out[start:start + len(count)] |= np.abs(count - self._group(a)) < 1e-6
        return out

    def _equations_of(self, cell: int) -> np.ndarray:
        return self.cell_equations[self.cell_start[cell]:self.cell_start[cell + 1]]

    def _entries_of(self, equations: np.ndarray) -> np.ndarray:
        return np.concatenate([np.arange(self.equation_start[e], self.equation_start[e + 1])
                               for e in equations])

    def _pinning(self, equations: np.ndarray) -> np.ndarray:
        """Of a withheld cell's `equations`, the equalities in which it is the only withheld
        cell: each gives its value outright, so one of its shown cells has to be withheld
        whatever else is."""
        system = self.system
        keep = []
        for e in equations:
            if system.inequality[e]:
                continue
            cells = self.entry_cell[self.equation_start[e]:self.equation_start[e + 1]]
            if np.count_nonzero(np.isnan(system.value[cells]) & ~system.structural[cells]) == 1:
                keep.append(e)
        return np.array(keep, dtype=equations.dtype)

    def picks(self, findings: list[Finding]) -> set[int]:
        """The cells to withhold next: a published count that discloses an attribute
        itself; for a recoverable withheld cell, a published cell of an equation that pins
        it alone (`_pinning`: that pick is needed, so never wasted), else a published part
        of a relation it is in (a total only when no part is left). Of those, the smallest
        of at least SAFE_PART (withheld beside a cell of at least 1, their split is then
        more than WIDTH wide), else the largest, and a count at an attribute's edge last.
        Cells in an equation with a cell picked this round wait for the next audit: that
        pick may already protect them.

        Pinning equations first matters most where a cell is given back by a breakdown
        (a placement group by its settings, or by the settings table's copy of it): picking
        among the group's siblings instead protects nothing, and once they are all
        withheld the next pick is the caseload itself."""
        system = self.system
        value = system.value
        edge = self.boundary()
        chosen = np.zeros(len(value), dtype=bool)
        touched = np.zeros(len(value), dtype=bool)

        def pick(cell: int, groups: tuple[np.ndarray, ...]) -> bool:
            for group in groups:
                if not len(group):
                    continue
                entries = self._entries_of(group)
                cand, coef = self.entry_cell[entries], self.entry_coef[entries]
                v = value[cand]
                with np.errstate(invalid="ignore"):
                    ok = (cand != cell) & ~np.isnan(v) & (v > 0) & ~chosen[cand]
                if ok.any():
                    break
            else:
                return False
            cand, coef, v = cand[ok], coef[ok], v[ok]
            big = v >= SAFE_PART
            # The last key sorts first: parts before totals, counts off an attribute's
            # edge first, then the smallest big enough part, else the largest.
            best = cand[np.lexsort((cand, np.where(big, v, -v), ~big, edge[cand],
                                    coef < 0))[0]]
            chosen[best] = True
            touched[self.entry_cell[self._entries_of(self._equations_of(best))]] = True
            return True

        rest = []
        for f in findings:
            cell = system.cell(f.table, f.column, f.row)
            if not math.isnan(value[cell]):
                chosen[cell] = True  # a shown count telling an attribute
                continue
            equations = self._equations_of(cell)
            if not len(equations):
                continue
            if pick(cell, (self._pinning(equations),)):
                # Its neighbours may be pinned only through it: they wait for the audit.
                touched[self.entry_cell[self._entries_of(equations)]] = True
            else:
                rest.append((cell, equations))
        # Then the cells no equation pins alone, unless a pick above may protect them:
        # relations with a part to withhold first, copies only when none has (a copy of a
        # shown figure protects nothing).
        for cell, equations in rest:
            if not touched[cell]:
                pick(cell, (equations[~self.copy[equations]], equations))
        return set(np.flatnonzero(chosen).tolist())


def protect(tables: dict[str, pl.DataFrame], model: Model, max_rounds: int = 500
            ) -> tuple[dict[str, pl.DataFrame], Audit]:
    """`tables` with the fewest further cells withheld that the audit demands (greedy),
    and the final audit: its findings are what could not be protected.

    Rounds work on the system of cells (no table is rebuilt until the end); the final
    audit is of the tables as returned, its system checked to be the one protected."""
    started = time.perf_counter()
    leaks: dict[tuple[str, str], set[int]] = defaultdict(set)
    for f in _derived(tables, model):
        leaks[(f.table, f.column)].add(f.row)
    tables = withhold(tables, leaks, model) if leaks else dict(tables)
    heights = _heights(tables)
    auditor = _Auditor(build_system(tables, model), model, heights, tables)
    system = auditor.system
    picked: set[int] = set()
    for _ in range(max_rounds):
        findings = auditor.run()
        if not findings:
            break
        chosen = auditor.picks(findings) - picked
        if not chosen:
            break
        picked |= chosen
        system.value[sorted(chosen)] = math.nan
    picks: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i in picked:
        picks[(system.table[i], system.column[i])].add(system.row[i])
    tables = withhold(tables, picks, model)
    final = _cells_only(tables, model)
    if not np.array_equal(final.value, system.value, equal_nan=True):
        raise RuntimeError("protect: the tables withheld differ from the cells protected")
    findings = auditor.run() + _derived(tables, model)
    return tables, Audit(findings, auditor.withheld, auditor.lps,
                         time.perf_counter() - started)


def _derived(tables: dict[str, pl.DataFrame], model: Model) -> list[Finding]:
    out = []
    for d in model.derived:
        frame = tables.get(d.table)
        if frame is None or d.column not in frame.columns:
            continue
        inputs = ", ".join([*d.inputs, *(f"the year before's {c}" for c in d.previous)])
        out += [Finding(d.table, d.column, r, "derived", None, None,
                        f"shown though one of {inputs} is withheld")
                for r in d.leaks(frame).arg_true().to_list()]
    return out


def withhold(tables: dict[str, pl.DataFrame], picks: dict[tuple[str, str], set[int]],
             model: Model) -> dict[str, pl.DataFrame]:
    """The tables with the picked cells withheld, the derived columns that use them too,
    and each row's `suppressed` list extended."""
    tables = dict(tables)
    for name in {t for t, _ in picks}:
        frame = tables[name].with_row_index("__row")
        added = []
        # In the table's column order, not the picks': their order follows the cells'
        # numbering across every table audited, and the same table must list the same.
        for column in [c for c in frame.columns if (name, c) in picks]:
            rows = picks[(name, column)]
            hit = pl.col("__row").is_in(sorted(rows))
            frame = frame.with_columns(
                pl.when(hit).then(None).otherwise(pl.col(column)).alias(column),
                pl.when(hit).then(pl.lit(column)).alias(f"__w_{column}"))
            added.append(f"__w_{column}")
        for d in model.derived:
            if d.table == name and d.column in frame.columns:
                hit = pl.lit(d.leaks(frame))
                marked = f"__w_{d.column}"
                # (The column may be a pick of its own already: keep that mark.)
                earlier = pl.col(marked) if marked in frame.columns else pl.lit(None, pl.Utf8)
                frame = frame.with_columns(
                    pl.when(hit).then(pl.lit(d.column)).otherwise(earlier).alias(marked),
                    pl.when(hit).then(None).otherwise(pl.col(d.column)).alias(d.column))
                if marked not in added:
                    added.append(marked)
        listed = pl.concat_str([pl.col("suppressed"), *[pl.col(a) for a in added]],
                               separator=",", ignore_nulls=True)
        frame = frame.with_columns(pl.when(listed != "").then(listed).alias("suppressed")) \
            if "suppressed" in frame.columns else frame
        tables[name] = frame.drop("__row", *added)
    return tables
