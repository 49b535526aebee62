"""Combinational building blocks shared by the codec blocks and the engine.

* :func:`popcount` and :func:`prefix_counts` -- counts of set bits;
  :func:`prefix_length` and :func:`leading_ones` -- the length of a keep
  mask's prefix without adders;
* :func:`compact_level` -- one level of the log-depth compaction network
  (nonzero lanes move down to consecutive slots), and
  :func:`expand_controls` / :func:`expand_level` -- the same network run
  backwards (slots move up to the lanes a mask selects).

The networks are built a level at a time so that the caller decides where the
pipeline registers go (two 2:1 multiplexer levels per clock closes timing on
the ECP5 at 64 bytes per cycle).
"""
from __future__ import annotations

from amaranth.hdl import Array, C, Cat, Mux, Signal

__all__ = ["popcount", "prefix_length", "leading_ones", "prefix_counts", "compact_level",
           "expand_controls", "expand_level",
           "expand_pipelined", "onehot_select", "room_after", "thermometer", "wrap"]


def popcount(bits):
    """Sum of 1-bit values as a balanced adder tree (0 for no bits)."""
    terms = list(bits)
    while len(terms) > 1:
        nxt = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0] if terms else C(0, 1)


def thermometer(count, width):
    """``width`` bits, bit ``k`` set when ``k < count`` (bits that ``count`` can
    never reach are constant 0, not a comparison that lint calls constant)."""
    top = (1 << len(count)) - 1
    return Cat(*[count > k if k < top else C(0, 1) for k in range(width)])


def onehot_select(onehot, values):
    """``values[k]`` for the set bit ``k`` of ``onehot`` (0 if none): an AND-OR,
    no priority chain and no encoded index behind the select lines."""
    terms = [Mux(onehot[k], v, 0) for k, v in enumerate(values)]
    return _or_tree(terms) if terms else C(0, 1)


def _or_tree(terms):
    """The OR of ``terms`` as a balanced tree: a chain of hundreds of terms, as
    a wide ring's read has, is too deep for Python's recursion in Amaranth's
    lowering."""
    while len(terms) > 1:
        terms = [terms[j] | terms[j + 1] if j + 1 < len(terms) else terms[j]
                 for j in range(0, len(terms), 2)]
    return terms[0]


def prefix_length(mask):
    """Number of set bits of ``mask``, a prefix (bits ``0 .. n-1`` set, the rest
    clear): the one-hot edge ``mask[k] & ~mask[k + 1]`` ORed into ``k + 1``,
    two gate levels and no carry chain, where :func:`popcount` needs adders.
    Meaningless for a mask that is not a prefix."""
    bits = list(mask)
    width = len(bits)
    out = C(0, max(1, width.bit_length()))
    for k in range(width):
        edge = bits[k] & ~bits[k + 1] if k + 1 < width else bits[k]
        out = out | Mux(edge, k + 1, 0)
    return out


def leading_ones(mask):
    """Number of leading set bits of ``mask`` (bits ``0 .. n-1`` set, bit ``n``
    clear), for any mask: where :func:`prefix_length` trusts the mask to be a
    prefix, each edge here is ``mask[0] & ... & mask[k] & ~mask[k + 1]``, so at
    most one is set and the result never exceeds the width.  For a prefix it
    equals the :func:`popcount`, with gate levels only (no carry chain): a
    stream input's byte count from ``keep``, which a sender may get wrong."""
    bits = list(mask)
    edges = []
    for k in range(len(bits)):
        run = Cat(*bits[:k + 1]).all()
        edges.append(run & ~bits[k + 1] if k + 1 < len(bits) else run)
    # (the index of the one edge, as in `prefix_length`; a 128-byte beat's
    # terms as a tree)
    return _or_tree([C(0, max(1, len(bits).bit_length()))]
                    + [Mux(edge, k + 1, 0) for k, edge in enumerate(edges)])


def _by(sel, values):
    """``values[sel]``: a 2:1 multiplexer for a 1-bit ``sel``, else an indexed
    array (``values`` has an entry for every value of ``sel``)."""
    if len(values) == 2:
        return Mux(sel, values[1], values[0])
    return Array(values)[sel]


def room_after(m, issued, depth, emit, take, *, most=None):
    """``issued + emit - take < depth`` (an output FIFO's room for one more beat
    after this cycle), for ``issued <= most`` (default ``depth``) and an
    ``emit`` of 0 up to ``2**len(emit) - 1`` beats, with ``emit`` and ``take``
    only picking among compares of the register ``issued`` with constants
    (signals of their own, ``below[j]`` = ``issued < depth - j``): a late
    ``take`` (the consumer's ``ready``) meets a multiplexer, not an adder and a
    compare."""
    most_emit = (1 << len(emit)) - 1
    below = [Signal(name=f"below{j}" if j else None) for j in range(most_emit + 1)]
    m.d.comb += [b.eq(issued < depth - j) for j, b in enumerate(below)]
    taken = C(1, 1)                      # issued - 1 < depth, as issued <= depth
    if most is not None and most > depth:
        taken = Signal()
        m.d.comb += taken.eq(issued <= depth)
    # with a take, emitting e beats leaves the count of emitting e - 1 without
    return _by(emit, [below[e] | (take & (below[e - 1] if e else taken))
                      for e in range(most_emit + 1)])


def count_after(issued, emit, take):
    """``issued + emit - take`` (an output FIFO's count of beats issued and not
    yet read, after this cycle), for an ``emit`` of 0 up to ``2**len(emit) -
    1``, as values of the register picked by ``emit`` and ``take``: a late
    ``take`` meets a multiplexer, not an adder (the count :func:`room_after`
    pairs with)."""
    def plus(e):
        return issued if e == 0 else issued - 1 if e == -1 else issued + e
    most_emit = (1 << len(emit)) - 1
    return Mux(take, _by(emit, [plus(e - 1) for e in range(most_emit + 1)]),
               _by(emit, [plus(e) for e in range(most_emit + 1)]))


def wrap(value, modulus, most):
    """``value`` modulo ``modulus``, for ``0 <= value < most * modulus``: a ring
    position past its end brought back by comparisons with constant multiples
    (the largest outermost), no divider; ``modulus`` need not be a power of two."""
    out = value
    for k in range(1, most):
        out = Mux(value >= k * modulus, value - k * modulus, out)
    return out


def prefix_counts(m, bits, name, stage=None, cuts=None):
    """``p[k]`` = number of set bits of ``bits`` below bit ``k`` (k = 0..n).

    A Hillis-Steele scan: ``ceil(log2(n))`` levels of small adders, each level
    a named combinational signal.  With ``stage`` (a function that registers a
    list of values and returns the registers; the caller registers what it
    carries beside them in the same call), the scan is registered after each
    number of levels in ``cuts`` (0: its inputs, before any level); by default
    after every two levels that leave more to do, a pipeline of two adder
    levels a stage.
    """
    n = len(bits)
    levels = (n - 1).bit_length()
    if cuts is None:
        cuts = range(2, levels, 2)
    cuts = set(cuts)
    if not cuts <= set(range(levels + 1)):
        raise ValueError(f"cuts must be level counts from 0 to {levels}, not {sorted(cuts)!r}")
    cur = [b for b in bits]
    d, level = 1, 0
    if stage is not None and 0 in cuts:
        cur = stage(cur)
    while d < n:
        nxt = cur[:d]
        for j in range(d, n):
            s = Signal(range(n + 1), name=f"{name}_l{level}_{j}")
            m.d.comb += s.eq(cur[j] + cur[j - d])
            nxt.append(s)
        cur, d, level = nxt, 2 * d, level + 1
        if stage is not None and level in cuts:
            cur = stage(cur)
    return [C(0, 1)] + cur


def compact_level(m, data, amounts, b, name):
    """Level ``b`` of the compaction network (levels run ``b`` = 0, 1, ...).

    ``data[j]`` moves down by ``2**b`` positions when bit ``b`` of
    ``amounts[j]`` is set.  Starting from ``amounts[l]`` = the number of empty
    lanes below lane ``l`` (and data and amount zero in empty lanes), the items
    end in consecutive slots from 0 after ``len(amount)`` levels, with no two
    items meeting on the way (the LSB-first order is what makes the network
    collision-free), so a position just ORs what may arrive.

    Returns the new ``(data, amounts)`` lists (combinational signals).
    """
    d = 1 << b
    out_d, out_a = [], []
    for j in range(len(data)):
        stay_d = Mux(amounts[j][b], 0, data[j])
        stay_a = Mux(amounts[j][b], 0, amounts[j])
        if j + d < len(data):
            come_d = Mux(amounts[j + d][b], data[j + d], 0)
            come_a = Mux(amounts[j + d][b], amounts[j + d], 0)
        else:
            come_d, come_a = C(0, len(data[j])), C(0, len(amounts[j]))
        sd = Signal(len(data[j]), name=f"{name}_d{b}_{j}")
        sa = Signal(len(amounts[j]), name=f"{name}_a{b}_{j}")
        m.d.comb += [sd.eq(stay_d | come_d), sa.eq(stay_a | come_a)]
        out_d.append(sd)
        out_a.append(sa)
    return out_d, out_a


def expand_amounts(m, mask, name):
    """How far each set bit's item moves in the compaction of ``mask`` (``k``
    minus the set bits below ``k``; 0 for a clear bit): the start of
    :func:`expand_controls`, which it can be given a stage ahead."""
    n = len(mask)
    p = prefix_counts(m, [mask[k] for k in range(n)], f"{name}_p")
    bits = max(1, (n - 1).bit_length())
    return [Mux(mask[k], k - p[k], 0)[:bits] for k in range(n)]


def expand_controls(m, mask, name, amounts=None):
    """Routing flags of the expansion network for lane mask ``mask``.

    The expansion sends slot ``j`` to the lane of the ``j``-th set bit of
    ``mask`` (the inverse of the compaction).  It is the compaction network run
    backwards, so its routing is computed by running the compaction forward on
    the mask alone.  Returns, per level ``b`` (in compaction order), the lists
    ``(stay, came)``: ``stay[x]`` = an item sat at position ``x`` before level
    ``b`` and did not move, ``came[y]`` = the item at ``y`` after level ``b``
    came from ``y + 2**b``.  ``amounts``: :func:`expand_amounts` of ``mask``,
    if the caller has it (e.g. from registers).
    """
    n = len(mask)
    bits = max(1, (n - 1).bit_length())
    valid = [mask[k] for k in range(n)]
    if amounts is None:
        amounts = expand_amounts(m, mask, name)
    levels = []
    for b in range(bits):
        d = 1 << b
        stay, came, nv, na = [], [], [], []
        for x in range(n):
            st = Signal(name=f"{name}_st{b}_{x}")
            m.d.comb += st.eq(valid[x] & ~amounts[x][b])
            stay.append(st)
        for y in range(n):
            cm = Signal(name=f"{name}_cm{b}_{y}")
            m.d.comb += cm.eq(valid[y + d] & amounts[y + d][b] if y + d < n else C(0, 1))
            came.append(cm)
            v = Signal(name=f"{name}_v{b}_{y}")
            a = Signal(bits, name=f"{name}_a{b}_{y}")
            m.d.comb += [v.eq(stay[y] | cm),
                         a.eq(Mux(stay[y], amounts[y], 0) |
                              (Mux(cm, amounts[y + d], 0) if y + d < n else 0))]
            nv.append(v)
            na.append(a)
        levels.append((stay, came))
        valid, amounts = nv, na
    return levels


def expand_level(m, data, stay, came, b, name):
    """Level ``b`` of the expansion network (run ``b`` = highest down to 0),
    with the flags of :func:`expand_controls`: position ``x`` takes its own
    item if it stayed there, or the item at ``x - 2**b`` if that one came from
    ``x``.  Items that belong nowhere (slots past the count) are dropped."""
    d = 1 << b
    out = []
    for x in range(len(data)):
        own = Mux(stay[x], data[x], 0)
        back = Mux(came[x - d], data[x - d], 0) if x - d >= 0 else 0
        s = Signal(len(data[x]), name=f"{name}_e{b}_{x}")
        m.d.comb += s.eq(own | back)
        out.append(s)
    return out


def expand_pipelined(m, mask, items, side, name, mask_early=None):
    """The expansion network as a pipeline: item *j* of ``items`` to the lane of
    the *j*-th set bit of ``mask``, zeros elsewhere.

    A first register stage holds the network's flags (:func:`expand_controls`
    of ``mask``), ``items`` and the ``side`` signals (valid, keep, ... that
    travel with the beat); then the levels run highest first, two per register
    stage.  Returns the expanded lanes and the ``side`` signals of the same
    cycle.  Latency: 1 + (levels - 1) // 2 cycles.  ``mask_early``: the value
    ``mask`` (a register) takes next cycle, if the caller has it; the flags'
    prefix counts are then formed from it a stage ahead.
    """
    L = len(items)
    if mask_early is None:
        levels = expand_controls(m, mask, f"{name}_ctl")
    else:
        am = expand_amounts(m, mask_early, f"{name}_am")
        am_r = [Signal(len(a), name=f"{name}_amr{k}") for k, a in enumerate(am)]
        m.d.sync += [r.eq(a) for r, a in zip(am_r, am)]
        levels = expand_controls(m, mask, f"{name}_ctl", amounts=am_r)
    flags = [f for stay, came in levels for f in stay + came]
    r_flags = [Signal(name=f"{name}_f{k}") for k in range(len(flags))]
    r_items = [Signal(len(items[0]), name=f"{name}_item{l}") for l in range(L)]
    r_side = [Signal.like(x, name=f"{name}_side{k}") for k, x in enumerate(side)]
    m.d.sync += [r.eq(x) for r, x in zip(r_flags + r_items + r_side, flags + list(items) + side)]
    flags_left = [(r_flags[2 * L * b:2 * L * b + L], r_flags[2 * L * b + L:2 * L * (b + 1)])
                  for b in range(len(levels))]
    data, side = r_items, r_side
    for done, b in enumerate(reversed(range(len(levels))), 1):
        stay, came = flags_left[b]
        data = expand_level(m, data, stay, came, b, f"x{b}")
        if done % 2 == 0 and b > 0:
            regs_d = [Signal(len(items[0]), name=f"x{b}_rd{j}") for j in range(L)]
            lower = [f for lb in range(b) for f in flags_left[lb][0] + flags_left[lb][1]]
            regs_f = [Signal(name=f"x{b}_rf{k}") for k in range(len(lower))]
            regs_s = [Signal.like(x, name=f"x{b}_rs{k}") for k, x in enumerate(side)]
            m.d.sync += [r.eq(x) for r, x in zip(regs_d + regs_f + regs_s, data + lower + side)]
            data, side = regs_d, regs_s
            it = iter(regs_f)
            flags_left = [([next(it) for _ in range(L)], [next(it) for _ in range(L)])
                          for _ in range(b)] + flags_left[b:]
    return data, side
