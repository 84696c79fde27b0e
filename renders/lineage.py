"""A render's family through `remix_of`: its ancestors (parent, grandparent, ... up to the first render) and
its descendants (remixes of it, their remixes, ...), in a constant number of queries whatever the depth.

    family = lineage.family(render)      # 2 queries: one recursive CTE for both directions, one to load rows
    family.ancestors                     # root first, the parent last; soft-deleted ones included (is_deleted)
    family.tree                          # [Node]: the render's remixes, each with .children, recursively

Deleted renders stay in the family (the row is kept by a soft delete): a deleted parent shows as "parent
deleted", a deleted remix keeps its place so its own remixes still hang from the right branch.

Cost per branch: a node's `branch_charged_usd` is what its whole subtree was charged (completed renders are
charged the delivered seconds; failed and canceled ones nothing), and `branch_pending_usd` the estimates still
held by renders of the subtree that are in flight.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from renders.models import Render

# Safety nets, not expected limits: a remix chain deeper than this, or a tree larger than this, is cut (and
# said so) rather than rendered in full on one page.
MAX_DEPTH = 200
MAX_DESCENDANTS = 500

_FAMILY_SQL = """
WITH RECURSIVE
  up(id, parent_id, depth) AS (
    SELECT id, remix_of_id, 0 FROM {table} WHERE id = %(id)s
    UNION ALL
    SELECT r.id, r.remix_of_id, up.depth + 1 FROM {table} r JOIN up ON r.id = up.parent_id
    WHERE up.depth < %(max_depth)s
  ),
  down(id, depth) AS (
    SELECT id, 0 FROM {table} WHERE id = %(id)s
    UNION ALL
    SELECT r.id, down.depth + 1 FROM {table} r JOIN down ON r.remix_of_id = down.id
    WHERE down.depth < %(max_depth)s
  )
SELECT id, depth, 'up' FROM up WHERE depth > 0
UNION ALL
SELECT id, depth, 'down' FROM down WHERE depth > 0
"""

# what the lineage shows of a relative: enough for a card, not the prompt's whole history
_FIELDS = ("id", "project_id", "author__username", "prompt", "model", "size", "seconds", "status", "progress",
           "remix_of_id", "retry_of_id", "thumbnail", "cost_estimate_usd", "charged_usd", "created_at", "deleted_at")


@dataclass
class Node:
    render: Render
    depth: int
    children: list = field(default_factory=list)
    branch_charged_usd: Decimal = Decimal("0")
    branch_pending_usd: Decimal = Decimal("0")
    branch_size: int = 1  # this render and all its descendants
    branch_in_flight: bool = False


@dataclass
class Family:
    render: Render
    ancestors: list
    tree: list
    descendant_count: int
    truncated: bool = False

    @property
    def parent(self):
        return self.ancestors[-1] if self.ancestors else None

    @property
    def in_flight(self):
        """Whether any descendant is still in flight (the page keeps its one poll running until none is)."""
        return any(node.branch_in_flight for node in self.tree)

    @property
    def branch_charged_usd(self):
        """Charged for the render and every descendant."""
        return _usd(self.render.charged_usd) + sum((n.branch_charged_usd for n in self.tree), Decimal("0"))

    @property
    def branch_pending_usd(self):
        """Estimates still held by the render and its descendants in flight."""
        own = Decimal("0") if self.render.is_final else _usd(self.render.cost_estimate_usd)
        return own + sum((n.branch_pending_usd for n in self.tree), Decimal("0"))

    @property
    def branch_size(self):
        return 1 + sum(n.branch_size for n in self.tree)

    def nodes(self):
        """Every descendant node, depth first, in the order the tree shows them."""
        stack = list(reversed(self.tree))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def family(render):
    """The render's ancestors and descendants (see the module docstring), in two queries."""
    table = connection.ops.quote_name(Render._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_FAMILY_SQL.format(table=table), {"id": render.pk, "max_depth": MAX_DEPTH})
        rows = cursor.fetchall()
    up = {pk: depth for pk, depth, direction in rows if direction == "up"}
    down = {pk: depth for pk, depth, direction in rows if direction == "down"}
    truncated = len(down) > MAX_DESCENDANTS
    if truncated:  # keep the nearest generations
        down = dict(sorted(down.items(), key=lambda item: (item[1], item[0]))[:MAX_DESCENDANTS])
    # remix_of only ever links renders of one project (submit checks it); the filter keeps a page to its project
    relatives = {
        r.pk: r for r in Render.objects.filter(pk__in=[*up, *down], project_id=render.project_id)
        .select_related("author").only(*_FIELDS)
    }
    ancestors = [relatives[pk] for pk in sorted(up, key=up.get, reverse=True) if pk in relatives]
    nodes = {pk: Node(relatives[pk], depth) for pk, depth in down.items() if pk in relatives}
    roots = []
    for node in sorted(nodes.values(), key=lambda n: (n.render.created_at, n.render.pk)):
        parent = nodes.get(node.render.remix_of_id)
        (parent.children if parent else roots).append(node)
    for node in roots:
        _sum_branch(node)
    return Family(render=render, ancestors=ancestors, tree=roots, descendant_count=len(nodes), truncated=truncated)


def _usd(value):
    # a render built in memory may still hold the string it was given; the database always gives a Decimal
    return Decimal(str(value or 0))


def _sum_branch(node):
    # iterative post-order: a deep chain must not hit Python's recursion limit
    order, stack = [], [node]
    while stack:
        current = stack.pop()
        order.append(current)
        stack.extend(current.children)
    for current in reversed(order):
        r = current.render
        current.branch_charged_usd = _usd(r.charged_usd)
        current.branch_pending_usd = Decimal("0") if r.is_final else _usd(r.cost_estimate_usd)
        current.branch_in_flight = r.in_flight
        current.branch_size = 1
        for child in current.children:
            current.branch_charged_usd += child.branch_charged_usd
            current.branch_pending_usd += child.branch_pending_usd
            current.branch_in_flight = current.branch_in_flight or child.branch_in_flight
            current.branch_size += child.branch_size
